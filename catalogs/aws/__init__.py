"""Built-in AWS catalogs, one YAML file per region (a package so the files ship as package data)."""
