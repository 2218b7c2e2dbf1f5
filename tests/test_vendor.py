"""`plugforge vendor`: several blocks in one importable package, helpers once, tests included."""

import shutil
import subprocess
import sys


from plugforge import resources
from plugforge.rendering import provenance
from tests.conftest import invoke


def test_vendor_writes_a_package_with_shared_helpers_once(tmp_path):
    package = tmp_path / "net" / "blocks"
    result = invoke("vendor", "se", "aspp", "sk", "-o", package)
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in package.iterdir())
    assert names == [".plugforge", "__init__.py", "_helpers.py", "aspp.py", "se.py", "sk.py",
                     "test_aspp.py", "test_se.py", "test_sk.py"]  # fmt: skip
    assert "class ConvNormAct" in (package / "_helpers.py").read_text()
    for module in ("aspp", "sk"):
        text = (package / f"{module}.py").read_text()
        assert "from ._helpers import ConvNormAct" in text and "class ConvNormAct" not in text
        assert provenance.read(text).packaged
    assert "from .se import SqueezeExcitation" in (package / "__init__.py").read_text()
    probe = "import torch, blocks\nprint(tuple(blocks.ASPP(8, out_channels=8)(torch.randn(2, 8, 9, 7)).shape), blocks.__all__)"
    run = subprocess.run([sys.executable, "-c", probe], cwd=package.parent, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "(2, 8, 9, 7) ['ASPP', 'SqueezeExcitation', 'SKConv']"


def test_the_vendored_tests_pass_inside_the_package(tmp_path):
    package = tmp_path / "blocks"
    assert invoke("vendor", "eca", "ppm", "-o", package).exit_code == 0
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(package)],
                         cwd=tmp_path, capture_output=True, text=True)  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:]
    assert " passed" in run.stdout.splitlines()[-1]


def test_vendoring_more_blocks_extends_the_package(tmp_path):
    package = tmp_path / "blocks"
    assert invoke("vendor", "gct", "-o", package).exit_code == 0  # gct uses no shared helper
    assert not (package / "_helpers.py").exists()
    result = invoke("vendor", "aspp", "gct", "-o", package, "--no-tests")
    assert result.exit_code == 0, result.output
    assert "unchanged  " in result.output  # gct.py is the same render
    init = (package / "__init__.py").read_text()
    assert "from .aspp import ASPP" in init and "from .gct import GatedChannelTransformation" in init
    assert (package / "_helpers.py").is_file()


def test_vendor_keeps_your_edits_unless_forced(tmp_path):
    package = tmp_path / "blocks"
    assert invoke("vendor", "se", "-o", package).exit_code == 0
    (package / "se.py").write_text((package / "se.py").read_text() + "# mine\n")
    result = invoke("vendor", "se", "eca", "-o", package)
    assert result.exit_code == 1 and "nothing was written" in result.output
    assert not (package / "eca.py").exists()
    assert (package / "se.py").read_text().endswith("# mine\n")


def _move_on(tmp_path, monkeypatch, template, old, new):
    """Point plugforge at a copy of its catalog and templates where ``template`` changed upstream."""
    data = tmp_path / "data"
    shutil.copytree(resources.catalog_dir(), data / "catalog")
    shutil.copytree(resources.templates_dir(), data / "templates")
    path = data / "templates" / template
    path.write_text(path.read_text().replace(old, new, 1))
    monkeypatch.setenv("PLUGFORGE_DATA_DIR", str(data))


def test_vendored_files_are_updated_in_their_packaged_form(tmp_path, monkeypatch):
    package = tmp_path / "blocks"
    assert invoke("vendor", "aspp", "-o", package, "--no-tests").exit_code == 0
    _move_on(tmp_path, monkeypatch, "blocks/aspp.py.j2", "def forward(", "def forward(  # upstream\n        ")
    result = invoke("update", package / "aspp.py")
    assert result.exit_code == 0, result.output
    text = (package / "aspp.py").read_text()
    assert "# upstream" in text and "from ._helpers import ConvNormAct" in text and "class ConvNormAct" not in text


def test_shared_helpers_are_updated_with_your_edits_kept(tmp_path, monkeypatch):
    package = tmp_path / "blocks"
    assert invoke("vendor", "aspp", "sk", "-o", package, "--no-tests").exit_code == 0
    helpers = package / "_helpers.py"
    header = provenance.read(helpers.read_text())
    assert header.helpers == ("conv_norm_act", "identity_blend") and provenance.is_pristine(helpers.read_text())
    assert invoke("diff", helpers).exit_code == 0
    helpers.write_text(helpers.read_text() + "\n\nMINE = 1\n")
    _move_on(tmp_path, monkeypatch, "helpers/conv_norm_act.py.j2", "    def forward(", "    # upstream\n    def forward(")
    monkeypatch.chdir(tmp_path)
    result = invoke("update", "--all")
    assert result.exit_code == 0, result.output
    assert "_helpers.py: merged; your edits are kept" in result.output
    text = helpers.read_text()
    assert "    # upstream\n    def forward(" in text and text.endswith("MINE = 1\n")
    probe = "import torch, blocks\nprint(tuple(blocks.SKConv(64)(torch.randn(2, 64, 9, 7)).shape))"
    run = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.strip() == "(2, 64, 9, 7)", run.stderr


def test_vendor_keeps_your_edited_helpers_when_they_hold_what_new_blocks_need(tmp_path):
    package = tmp_path / "blocks"
    assert invoke("vendor", "aspp", "-o", package, "--no-tests").exit_code == 0
    helpers = package / "_helpers.py"
    helpers.write_text(helpers.read_text() + "\n\nMINE = 1\n")
    edited = helpers.read_bytes()
    for block in ("sk", "eca"):  # sk imports the ConvNormAct already there; eca needs no helper
        result = invoke("vendor", block, "-o", package, "--no-tests")
        assert result.exit_code == 0, result.output
        assert "kept  " in result.output and "_helpers.py" in result.output
    assert helpers.read_bytes() == edited and (package / "sk.py").is_file()
    probe = "import torch, blocks\nprint(tuple(blocks.SKConv(64)(torch.randn(2, 64, 5, 5)).shape), blocks._helpers.MINE)"
    run = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True)
    assert run.stdout.strip() == "(2, 64, 5, 5) 1", run.stderr


def test_vendor_names_what_your_edited_helpers_lack(tmp_path):
    package = tmp_path / "blocks"
    assert invoke("vendor", "aspp", "-o", package, "--no-tests").exit_code == 0
    helpers = package / "_helpers.py"
    helpers.write_text(helpers.read_text() + "\n\nMINE = 1\n")
    result = invoke("vendor", "axial_attn", "-o", package, "--no-tests")  # needs LinearNoBias too
    assert result.exit_code == 1
    assert "_helpers.py: you edited it, and it lacks LinearNoBias, which axial_attn imports" in result.output
    assert "--force" in result.output
    assert helpers.read_text().endswith("MINE = 1\n") and not (package / "axial_attn.py").exists()
    forced = invoke("vendor", "axial_attn", "-o", package, "--no-tests", "--force")
    assert forced.exit_code == 0 and "class LinearNoBias" in helpers.read_text()
