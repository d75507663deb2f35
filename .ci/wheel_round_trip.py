"""CI, in a venv holding only npnet's wheel: the demo, then a course round trip (release `layers`,
grade it untouched: 0; with the instructor's blocks put back from the installed package: full marks).
Run from an empty folder outside the checkout; exits non-zero on any difference."""
import json
import subprocess
import sys
from pathlib import Path

import npnet
from npnet.course import manifest, markers

site = Path(npnet.__file__).resolve().parents[1]
assert "site-packages" in str(site), f"npnet is not the installed wheel: {site}"


def npnet_cli(*args):
    print("+ npnet", *args, flush=True)
    subprocess.run(["npnet", *args], check=True)


npnet_cli("demo")
assert any(Path("npnet-demo").glob("*.png")), "the demo wrote no figure"
a = manifest.load("layers")
npnet_cli("course", "release", "layers", "-o", "rel")
npnet_cli("course", "grade", "layers", "rel", "--one", "--isolation", "submission", "--json", "untouched.json",
          "--quiet")
untouched = json.loads(Path("untouched.json").read_text())
assert untouched["score"] == 0 and untouched["max_score"] == a.max_score, untouched["score"]
for path in a.submit:
    Path("rel", path).write_text(markers.fill_stubs(Path("rel", path).read_text(), (site / path).read_text(), path))
npnet_cli("course", "grade", "layers", "rel", "--one", "--isolation", "submission", "--json", "full.json", "--quiet")
full = json.loads(Path("full.json").read_text())
assert full["score"] == full["max_score"] == a.max_score, [(t["name"], t["score"]) for t in full["tests"]]
print(f"wheel round trip: demo figure written; layers untouched 0 / {a.max_score:g}, "
      f"instructor's blocks {full['score']:g} / {a.max_score:g}")
sys.exit(0)
