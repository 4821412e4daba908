"""Finding and loading the library, the version check, and importing without numpy."""
import os
import subprocess
import sys
import unittest

from . import _util  # noqa: F401 (puts python/ on sys.path first)
from ._util import python_env

import gradflow
from gradflow import _lib


def run_child(code, **env):
    return subprocess.run([sys.executable, "-c", code], env=python_env(**env), capture_output=True, text=True,
                          timeout=60)


class VersionCheckTest(unittest.TestCase):
    def test_same_version_is_accepted(self):
        _lib.check_version(10203, (1, 2, 3))

    def test_newer_minor_and_patch_are_accepted(self):
        _lib.check_version(10500, (1, 2, 3))
        _lib.check_version(10207, (1, 2, 3))

    def test_older_minor_is_refused_naming_both_versions(self):
        with self.assertRaises(ImportError) as cm:
            _lib.check_version(10100, (1, 2, 0))
        self.assertIn("1.1.0", str(cm.exception))
        self.assertIn("1.2.0", str(cm.exception))

    def test_other_major_is_refused(self):
        with self.assertRaisesRegex(ImportError, "major version 1"):
            _lib.check_version(20200, (1, 2, 0))
        with self.assertRaisesRegex(ImportError, "major"):
            _lib.check_version(200, (1, 2, 0))

    def test_loaded_library_reports_a_compatible_version(self):
        major, minor, _ = gradflow.version()
        self.assertEqual(major, gradflow.BINDING_VERSION[0])
        self.assertGreaterEqual(minor, gradflow.BINDING_VERSION[1])
        self.assertEqual(gradflow.version_string(), "%d.%d.%d" % gradflow.version())


class LoadingTest(unittest.TestCase):
    @unittest.skipUnless(os.path.exists(_lib.IN_TREE_LIBRARY), "no in-tree build in lib/")
    def test_in_tree_library_is_used_when_no_variable_is_set(self):
        r = run_child("import gradflow; print(gradflow.library_path)", GRADFLOW_LIBRARY=None)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(os.path.realpath(r.stdout.strip()), os.path.realpath(_lib.IN_TREE_LIBRARY))

    def test_in_tree_path_is_lib_of_the_checkout(self):
        self.assertEqual(_lib.IN_TREE_LIBRARY, os.path.join(_util.ROOT, "lib", "libgradflow.so.0"))

    def test_gradflow_library_variable_is_honoured(self):
        # The library this suite loaded: lib/ by default, build/clang/lib under `make check CC=clang`.
        lib = os.path.realpath(gradflow.library_path)
        r = run_child("import gradflow; print(gradflow.library_path)", GRADFLOW_LIBRARY=lib)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), lib)

    def test_unloadable_gradflow_library_is_an_import_error_naming_it(self):
        r = run_child("import gradflow", GRADFLOW_LIBRARY="/nonexistent/libgradflow.so.0")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("ImportError", r.stderr)
        self.assertIn("/nonexistent/libgradflow.so.0", r.stderr)

    def test_package_imports_and_trains_when_numpy_cannot_be_imported(self):
        code = ("import sys; sys.modules['numpy'] = None\n"
                "import gradflow as gf\n"
                "assert not gf.HAVE_NUMPY\n"
                "with gf.Net(2, seed=3) as n:\n"
                "    n.add_dense(1)\n"
                "    y = n.predict([[1.0, 2.0]])\n"
                "    print(type(y).__name__, y.typecode, len(y))\n")
        r = run_child(code)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.split(), ["array", "f", "1"])

    def test_hide_numpy_variable_makes_numpy_absent(self):
        r = run_child("import gradflow; print(gradflow.HAVE_NUMPY)", GRADFLOW_HIDE_NUMPY="1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "False")


if __name__ == "__main__":
    unittest.main()
