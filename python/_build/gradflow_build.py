"""gradflow_build.py — the build backend (PEP 517, PEP 660) of python/pyproject.toml.

The package is pure Python over ctypes, so a wheel is a zip of python/gradflow/ plus,
when one is found, the shared library copied next to the modules (gradflow/libgradflow.so.0),
which the package loads before looking elsewhere.  Written here, with the standard library
only, so `pip install ./python` needs nothing from a package index (requires = []) and
works offline, with or without build isolation.

Which library is bundled:
  GRADFLOW_BUNDLE_LIBRARY=0   none: the installed package then uses $GRADFLOW_LIBRARY or
                              the system's libgradflow.so.0 (ldconfig, LD_LIBRARY_PATH)
  GRADFLOW_LIBRARY=PATH       that file
  otherwise                   ../lib/libgradflow.so.0 of the checkout (after `make`), if built
A wheel with a library is tagged for this platform; one without is py3-none-any.
"""
import base64
import csv
import hashlib
import io
import os
import re
import sysconfig
import tarfile
import time
import zipfile

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # python/
PACKAGE = "gradflow"
SONAME = "libgradflow.so.0"
# Fixed timestamp for the archive members, so the same tree gives the same wheel.
EPOCH = (1980, 1, 1, 0, 0, 0)


# ---- metadata ------------------------------------------------------------

def _project():
    """The [project] table of pyproject.toml: tomllib where it exists, else the few plain keys."""
    path = os.path.join(HERE, "pyproject.toml")
    try:
        import tomllib
        with open(path, "rb") as f:
            return tomllib.load(f).get("project", {})
    except ImportError:
        pass
    project, table = {}, None
    with open(path) as f:
        for line in f:
            m = re.match(r"^\[(.*)\]\s*$", line)
            if m:
                table = m.group(1).strip()
                continue
            m = re.match(r'^(\w[\w-]*)\s*=\s*"(.*)"\s*$', line)
            if m and table == "project":
                project[m.group(1)] = m.group(2)
    return project


def _version():
    """The binding's version, from the one place it is written (gradflow/_lib.py)."""
    with open(os.path.join(HERE, PACKAGE, "_lib.py")) as f:
        m = re.search(r"^BINDING_VERSION = \((\d+), (\d+), (\d+)\)", f.read(), re.M)
    return "%s.%s.%s" % m.groups()


def _metadata():
    p = _project()
    lines = ["Metadata-Version: 2.1", "Name: %s" % PACKAGE, "Version: %s" % _version()]
    if p.get("description"):
        lines.append("Summary: %s" % p["description"])
    if p.get("requires-python"):
        lines.append("Requires-Python: %s" % p["requires-python"])
    for extra, reqs in sorted(p.get("optional-dependencies", {}).items()):
        lines.append("Provides-Extra: %s" % extra)
        lines += ['Requires-Dist: %s; extra == "%s"' % (r, extra) for r in reqs]
    return "\n".join(lines) + "\n"


# ---- the library to bundle ------------------------------------------------

def _library():
    """Path of the shared library to put in the wheel, or None."""
    if os.environ.get("GRADFLOW_BUNDLE_LIBRARY", "1") == "0":
        return None
    env = os.environ.get("GRADFLOW_LIBRARY")
    if env:
        if not os.path.isfile(env):
            raise FileNotFoundError("gradflow_build: GRADFLOW_LIBRARY=%r is not a file" % env)
        return env
    tree = os.path.join(os.path.dirname(HERE), "lib", SONAME)
    return tree if os.path.isfile(tree) else None


def _tag(bundled):
    if not bundled:
        return "py3-none-any"
    return "py3-none-" + sysconfig.get_platform().replace("-", "_").replace(".", "_")


# ---- wheel writing --------------------------------------------------------

def _digest(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


class _Wheel:
    """A wheel being written: members added in order, RECORD written last."""

    def __init__(self, path):
        self.zip = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED)
        self.record = []

    def add(self, name, data, mode=0o644):
        info = zipfile.ZipInfo(name, EPOCH)
        info.external_attr = (0o100000 | mode) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        self.zip.writestr(info, data)
        self.record.append((name, _digest(data), str(len(data))))

    def close(self, record_name):
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerows(self.record)
        writer.writerow((record_name, "", ""))
        info = zipfile.ZipInfo(record_name, EPOCH)
        info.external_attr = 0o100644 << 16
        self.zip.writestr(info, out.getvalue())
        self.zip.close()


def _package_files():
    base = os.path.join(HERE, PACKAGE)
    return sorted(n for n in os.listdir(base) if n.endswith(".py"))


def _dist_info(wheel, tag, purelib):
    di = "%s-%s.dist-info" % (PACKAGE, _version())
    wheel.add(di + "/METADATA", _metadata().encode())
    wheel.add(di + "/WHEEL", ("Wheel-Version: 1.0\nGenerator: gradflow_build\nRoot-Is-Purelib: %s\nTag: %s\n"
                              % ("true" if purelib else "false", tag)).encode())
    return di + "/RECORD"


def _wheel_name(tag):
    return "%s-%s-%s.whl" % (PACKAGE, _version(), tag)


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    lib = _library()
    tag = _tag(lib)
    name = _wheel_name(tag)
    wheel = _Wheel(os.path.join(wheel_directory, name))
    for n in _package_files():
        with open(os.path.join(HERE, PACKAGE, n), "rb") as f:
            wheel.add("%s/%s" % (PACKAGE, n), f.read())
    if lib:
        with open(lib, "rb") as f:
            wheel.add("%s/%s" % (PACKAGE, SONAME), f.read(), 0o755)
    wheel.close(_dist_info(wheel, tag, purelib=lib is None))
    return name


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    """PEP 660: a wheel holding only a .pth that puts python/ on sys.path (the in-tree library is found)."""
    tag = _tag(None)
    name = _wheel_name(tag)
    wheel = _Wheel(os.path.join(wheel_directory, name))
    wheel.add("__editable__.%s.pth" % PACKAGE, (HERE + "\n").encode())
    wheel.close(_dist_info(wheel, tag, purelib=True))
    return name


def build_sdist(sdist_directory, config_settings=None):
    base = "%s-%s" % (PACKAGE, _version())
    name = base + ".tar.gz"
    members = ["pyproject.toml", "_build/gradflow_build.py"] + ["%s/%s" % (PACKAGE, n) for n in _package_files()]
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for m in members:
            info = tar.gettarinfo(os.path.join(HERE, m), "%s/%s" % (base, m))
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            with open(os.path.join(HERE, m), "rb") as f:
                tar.addfile(info, f)
        pkg_info = _metadata().encode()
        info = tarfile.TarInfo("%s/PKG-INFO" % base)
        info.size, info.mtime = len(pkg_info), int(time.mktime(EPOCH + (0, 0, -1)))
        tar.addfile(info, io.BytesIO(pkg_info))
    return name


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []
