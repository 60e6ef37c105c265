"""Install headless Chromium and a CJK font (Debian packages) for the browser tests, if missing.

Run by `make test`. As root it uses apt-get; otherwise `sudo -n apt-get`; when neither works
it says what to do and the browser tests are skipped (they fail instead under CI=true).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

NAMES = ("chromium", "chromium-browser", "google-chrome")


def find_browser() -> str | None:
    """Path of a Chromium-like browser on PATH, or None."""
    for name in NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _has_cjk_font() -> bool:
    """True when fontconfig knows a Chinese font (the book's terms are shown in Chinese)."""
    if not shutil.which("fc-list"):
        return False
    out = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout
    return bool(out.strip())


def main() -> int:
    wanted = ([] if find_browser() else ["chromium", "fonts-dejavu-core"]) + (
        [] if _has_cjk_font() else ["fonts-noto-cjk"])
    if not wanted:
        return 0
    if not shutil.which("apt-get"):
        print("Browser tests need Chromium; this system has no apt-get: install chromium and "
              "put it on PATH.")
        return 0
    prefix: list[str] = []
    if os.geteuid() != 0:
        if shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"],
                                                   capture_output=True).returncode == 0:
            prefix = ["sudo", "-n"]
        else:
            print("Browser tests need Chromium: run `sudo apt-get install chromium` "
                  "(they are skipped until then).")
            return 0
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    print(f"Installing {' '.join(wanted)} for the browser tests (once)…", flush=True)
    for cmd in (["apt-get", "update", "-qq"],
                ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *wanted]):
        proc = subprocess.run(prefix + cmd, env=env, stdout=subprocess.DEVNULL)
        if proc.returncode != 0:
            print(f"`{' '.join(cmd)}` failed (exit {proc.returncode}); the browser tests will "
                  "not run.")
            return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
