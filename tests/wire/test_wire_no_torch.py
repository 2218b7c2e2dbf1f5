"""The wiring and project modules must not import torch (nor the catalog or renderer)."""

import subprocess
import sys


def test_importing_wire_and_project_does_not_import_torch():
    code = (
        "import sys, plugforge.wire, plugforge.project\n"
        "from plugforge.wire import add, Block, Source\n"
        "add(open(sys.argv[1]).read(), Block('Gate', 'insert', ('channels',), {}), Source(module='b.g'), name='g',"
        " class_name='Bottleneck')\n"
        "bad = [m for m in ('torch', 'plugforge.catalog.spec', 'plugforge.rendering.render', 'jinja2') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    corpus = __file__.rsplit("/", 2)[0] + "/corpus/resnet.py"
    output = subprocess.run([sys.executable, "-c", code, corpus], capture_output=True, text=True, check=True)
    assert output.stdout.strip() == ""
