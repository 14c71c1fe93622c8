"""Unpacks the data/ part of wheels (headers, libraries, CMake files) into a prefix.

Usage: unpack_wheel_data.py PREFIX WHEEL...
Wheels store symlinked libraries as copies; identical copies of one library become symlinks again.
"""
import hashlib, os, sys, zipfile

prefix, wheels = sys.argv[1], sys.argv[2:]
seen = {}
for wheel in wheels:
    with zipfile.ZipFile(wheel) as z:
        for info in z.infolist():
            parts = info.filename.split("/")
            if len(parts) < 4 or not parts[0].endswith(".data") or parts[1] != "data" or info.is_dir():
                continue
            rel = "/".join(parts[2:])
            # A member may not leave the prefix: no "..", no absolute path, no empty part.
            if any(p in ("", ".", "..") for p in parts[2:]) or "\\" in rel:
                sys.exit(f"unpack_wheel_data.py: {wheel}: refusing member '{info.filename}' (a path outside {prefix})")
            dest = os.path.join(prefix, rel)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            data = z.read(info)
            digest = hashlib.sha256(data).hexdigest()
            if digest in seen and os.path.dirname(seen[digest]) == os.path.dirname(dest) and len(data) > 1 << 20:
                os.symlink(os.path.basename(seen[digest]), dest)
                continue
            with open(dest, "wb") as f:
                f.write(data)
            seen.setdefault(digest, dest)
