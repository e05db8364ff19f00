"""Issue 17, security: names never steer a write outside its folder, nothing is written through a symbolic
link or over an input, writes are whole or not at all, and user text in TODO.md and calibrated YAML is inert."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from fitness.calibration.calibrate import Inputs, calibrate
from fitness.errors import UserError
from fitness.escape import md_fence, md_inline, one_line, path_part
from fitness.outputs import check_new_file, check_tree, write_file, write_tree
from tests.markdown_check import fences, headings, unsafe_elements
from tests.test_export import CPU, cli, deploy, workload

HOSTILE = ["../../escaped", "/abs/x", "..", ".", ".hidden", "a/b\\c", "x\ny", "C:\\win", "", "-rf", "ok-name_1.v2"]


@pytest.mark.parametrize("name", HOSTILE)
def test_a_path_part_is_one_plain_name(name):
    part = path_part(name)
    assert part and "/" not in part and "\\" not in part and not part.startswith((".", "-"))
    assert Path(part).name == part and part not in ("..", ".")
    assert (part == name) == (name == "ok-name_1.v2")  # safe names are kept as written


def test_names_differing_in_unsafe_characters_stay_distinct():
    assert path_part("a/b") != path_part("a:b") and path_part("a b") != path_part("a-b")


def test_a_triton_model_named_to_escape_writes_inside_the_folder(tmp_path):
    gpu = [{"name": "../../escaped", "memory_mb": 2000, "accelerator": "gpu",
            "service_time": {"dist": "constant", "value_ms": 20}}]
    d, _ = deploy(workload({"triton": {"instance_type": "ml.g4dn.xlarge", "instance_count": 1}}, gpu), "triton")
    files = d.files()
    out = tmp_path / "a" / "b" / "out"
    assert check_tree(out, list(files), []) == []
    write_tree(out, files)
    written = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert all(w.startswith("a/b/out/") for w in written) and len(written) == len(files)
    folder = next(p for p in files if p.startswith("triton/")).split("/")[1]
    env = next(c for c in d.calls if c.operation == "CreateModel").body["PrimaryContainer"]["Environment"]
    assert env["SAGEMAKER_TRITON_DEFAULT_MODEL_NAME"] == folder  # Triton serves the folder's name
    assert all(line.startswith(("#", " ", "}", "]", "max_", "dynamic", "instance")) or not line
               for line in files[f"triton/{folder}/config.pbtxt"].splitlines())


def test_paths_leaving_the_folder_are_refused(tmp_path):
    for rel in ("../x", "/etc/x", "a/../../x"):
        with pytest.raises(UserError, match="not inside the folder"):
            check_tree(tmp_path, [rel], [])


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "work" / "tiny.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(workload({"realtime": {"instance_type": "ml.c5.xlarge", "instance_count": 2}})))
    return path


@pytest.mark.parametrize("name", ["../x", "/abs/x"])
def test_a_workload_name_cannot_place_the_default_export_folder(tmp_path, tiny, name):
    tiny.write_text(yaml.safe_dump({**yaml.safe_load(tiny.read_text()), "name": name}))
    done = cli("export", str(tiny), "--option", "realtime", cwd=tiny.parent)
    assert done.returncode == 0, done.stderr
    made = [p for p in tiny.parent.iterdir() if p.is_dir()]
    assert len(made) == 1 and made[0].name.endswith("-export") and (made[0] / "TODO.md").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"] and not Path("/abs").exists()


def test_export_never_writes_through_a_symlink_even_with_force(tmp_path, tiny):
    out = tiny.parent / "out"
    out.mkdir()
    (out / "TODO.md").symlink_to(tiny)  # a link to the workload itself
    (out / "cloudformation.json").symlink_to(tmp_path / "dangling.json")
    before = tiny.read_bytes()
    for extra in ([], ["--force"]):
        done = cli("export", str(tiny), "--option", "realtime", "--out", str(out), *extra, cwd=tiny.parent)
        assert done.returncode == 2 and "symbolic link" in done.stderr and "Traceback" not in done.stderr
    assert tiny.read_bytes() == before and not (tmp_path / "dangling.json").exists()
    assert sorted(p.name for p in out.iterdir()) == ["TODO.md", "cloudformation.json"]


def test_an_export_folder_that_is_a_link_or_holds_one_below_is_refused(tmp_path):
    real = tmp_path / "real"
    (real / "boto3").mkdir(parents=True)
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(UserError, match="symbolic link"):
        check_tree(link, ["TODO.md"], [])
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "boto3").symlink_to(real / "boto3")
    with pytest.raises(UserError, match="symbolic link"):
        check_tree(tmp_path / "out", ["boto3/01.x.json"], [])


def test_single_file_outputs_refuse_links_inputs_and_existing_files(tmp_path):
    wl = tmp_path / "wl.yaml"
    wl.write_text("x")
    dangling = tmp_path / "report.md"
    dangling.symlink_to(tmp_path / "elsewhere.md")
    with pytest.raises(UserError, match="symbolic link"):
        check_new_file(dangling, [wl], force=True)
    hard = tmp_path / "hard.yaml"
    os.link(wl, hard)
    for out in (wl, hard):  # the input itself, or another name of the same file
        with pytest.raises(UserError, match="inputs, which are never overwritten"):
            check_new_file(out, [wl], force=True)
    (tmp_path / "old.md").write_text("old")
    with pytest.raises(UserError, match="--force"):
        check_new_file(tmp_path / "old.md", [wl], force=False)
    check_new_file(tmp_path / "old.md", [wl], force=True)
    assert not (tmp_path / "elsewhere.md").exists()


@pytest.mark.parametrize("command", [["recommend", "{wl}", "--out", "{link}"],
                                     ["calibrate", "m.csv", "--workload", "{wl}", "--model", "m", "--out", "{link}"],
                                     ["import-trace", "e.json", "--out", "{link}"]])
def test_the_cli_refuses_a_dangling_link_as_out_before_any_work(tmp_path, tiny, command):
    link = tmp_path / "out.txt"
    link.symlink_to(tmp_path / "target.txt")
    args = [a.format(wl=tiny, link=link) for a in command]
    done = cli(*args, "--force", cwd=tmp_path)
    assert done.returncode == 2 and "symbolic link" in done.stderr, done.stderr
    assert not (tmp_path / "target.txt").exists()


def test_a_failed_write_leaves_nothing_and_keeps_the_old_files(tmp_path):
    (tmp_path / "keep.md").write_text("old")
    (tmp_path / "blocker").write_text("a file where a folder must go")
    files = {"keep.md": "new", "new/a.json": "{}", "blocker/b.json": "{}"}
    with pytest.raises(UserError, match="Nothing was written"):
        write_tree(tmp_path, files)
    assert (tmp_path / "keep.md").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker", "keep.md"]  # no temp files, no empty folder


def test_an_interrupted_report_keeps_the_old_one(tmp_path, monkeypatch):
    out = tmp_path / "report.md"
    out.write_text("old report")
    real = Path.write_bytes

    def interrupted(self, data):
        real(self, data[:10])
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "write_bytes", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_file(out, "a new report, much longer than ten bytes")
    monkeypatch.undo()
    assert out.read_text() == "old report" and [p.name for p in tmp_path.iterdir()] == ["report.md"]
    write_file(out, "b")
    assert out.read_text() == "b"


# --- user text in Markdown, YAML and pbtxt -----------------------------------------------------------

PAYLOAD = "<script>alert(1)</script><img src=x onerror=alert(1)> [x](javascript:alert(1)) <javascript:alert(1)>"


def test_todo_md_keeps_user_text_inert(tmp_path):
    name = "w`" + PAYLOAD + "\n# Owned"
    models = [{"name": "m" + PAYLOAD + "\n## Owned", **CPU}]
    d, _ = deploy({**workload({"realtime": {"instance_type": "ml.c5.xlarge", "instance_count": 2}}, models),
                   "name": name}, "realtime")
    todo = d.files()["TODO.md"]
    assert unsafe_elements(todo) == [] and unsafe_elements(PAYLOAD) != []
    assert len(headings(todo)) == 1 and "Owned" not in " ".join(headings(todo, 2))
    deploy_cmd = next(f for f in fences(todo) if "cloudformation deploy" in f)
    stack = deploy_cmd.split("--stack-name ")[1].split()[0]
    assert all(c.isalnum() or c == "-" for c in stack)  # nothing in it for a shell to interpret


def test_md_inline_keeps_our_markup_and_code_spans():
    assert md_inline("p99 <= 200 ms and `<type>` in **bold**") == "p99 <= 200 ms and `<type>` in **bold**"
    assert md_inline("models[0]") == "models\\[0\\]"
    assert md_fence("bash", "echo ```` x") == ["`````bash", "echo ```` x", "`````"]
    assert one_line("a\nb\r\nc\u2028d\x00") == "a b c d\\x00"


def test_a_measurement_file_name_cannot_add_a_yaml_key(tmp_path):
    wl = tmp_path / "w.yaml"
    wl.write_text(yaml.safe_dump({"models": [{"name": "m", **CPU}], "traffic": {"pattern": "poisson",
                                                                              "rate_rps": 1}}))
    measured = tmp_path / "m\nevil: 1\n.csv"
    measured.write_text("latency_ms\n" + "\n".join(str(10 + i % 7) for i in range(200)) + "\n")
    result = calibrate(wl, "m", Inputs((measured,)), tmp_path / "o.yaml")
    data = yaml.safe_load(result.text)
    assert "evil" not in data and set(data) == {"models", "traffic"}
    assert json.dumps(data["models"][0]["service_time"])  # the fit itself is written
