"""The build backend of python/pyproject.toml (python/_build/gradflow_build.py): the wheels it
writes are well-formed and carry what docs/python.md ("Installing") says.  The install into a
fresh venv is tests/check_python_install.sh."""
import base64
import csv
import hashlib
import importlib.util
import io
import os
import tempfile
import unittest
import zipfile
from unittest import mock

from . import _util

import gradflow

BACKEND = os.path.join(_util.ROOT, "python", "_build", "gradflow_build.py")


def load_backend():
    spec = importlib.util.spec_from_file_location("gradflow_build", BACKEND)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class WheelTest(unittest.TestCase):
    def setUp(self):
        self.backend = load_backend()
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def build(self, **env):
        env.setdefault("GRADFLOW_BUNDLE_LIBRARY", "1")
        with mock.patch.dict(os.environ, env):
            name = self.backend.build_wheel(self.tmp.name)
        return name, zipfile.ZipFile(os.path.join(self.tmp.name, name))

    def test_record_lists_every_member_with_its_hash_and_size(self):
        _, whl = self.build(GRADFLOW_LIBRARY=os.path.join(_util.LIBDIR, "libgradflow.so.0"))
        record = [n for n in whl.namelist() if n.endswith(".dist-info/RECORD")]
        self.assertEqual(len(record), 1)
        rows = {r[0]: r[1:] for r in csv.reader(io.StringIO(whl.read(record[0]).decode()))}
        self.assertEqual(set(rows), set(whl.namelist()))
        for name in whl.namelist():
            if name == record[0]:
                continue
            data = whl.read(name)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            self.assertEqual(rows[name], ["sha256=" + digest, str(len(data))], name)

    def test_wheel_bundles_the_named_library_and_is_platform_tagged(self):
        lib = os.path.join(_util.LIBDIR, "libgradflow.so.0")
        name, whl = self.build(GRADFLOW_LIBRARY=lib)
        self.assertNotIn("none-any", name)
        with open(lib, "rb") as f:
            self.assertEqual(whl.read("gradflow/libgradflow.so.0"), f.read())
        wheel = whl.read("gradflow-%s.dist-info/WHEEL" % gradflow.__version__).decode()
        self.assertIn("Root-Is-Purelib: false", wheel)

    def test_without_bundling_the_wheel_is_pure_python(self):
        name, whl = self.build(GRADFLOW_BUNDLE_LIBRARY="0")
        self.assertTrue(name.endswith("-py3-none-any.whl"), name)
        self.assertFalse([n for n in whl.namelist() if "libgradflow" in n])

    def test_every_module_of_the_package_is_in_the_wheel(self):
        _, whl = self.build(GRADFLOW_BUNDLE_LIBRARY="0")
        pkg = os.path.dirname(gradflow.__file__)
        want = {"gradflow/" + n for n in os.listdir(pkg) if n.endswith(".py")}
        self.assertEqual({n for n in whl.namelist() if n.endswith(".py")}, want)

    def test_metadata_version_is_the_binding_version(self):
        _, whl = self.build(GRADFLOW_BUNDLE_LIBRARY="0")
        meta = whl.read("gradflow-%s.dist-info/METADATA" % gradflow.__version__).decode()
        self.assertIn("Name: gradflow\n", meta)
        self.assertIn("Version: %s\n" % gradflow.__version__, meta)
        self.assertIn('Requires-Dist: numpy; extra == "numpy"', meta)

    def test_a_missing_library_named_by_the_environment_is_an_error(self):
        with self.assertRaisesRegex(FileNotFoundError, "GRADFLOW_LIBRARY"):
            self.build(GRADFLOW_LIBRARY=os.path.join(self.tmp.name, "nope.so"))

    def test_no_build_requirements_so_pip_needs_no_index(self):
        self.assertEqual(self.backend.get_requires_for_build_wheel(), [])
        with open(os.path.join(_util.ROOT, "python", "pyproject.toml")) as f:
            self.assertIn("requires = []", f.read())


if __name__ == "__main__":
    unittest.main()
