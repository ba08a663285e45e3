"""The interactive password prompt: on a terminal, a PKCS#12 that needs a password and has none
given is asked for one, without echo; the password is never shown. Driven through a real
pseudo-terminal (the pty module), as a person at a shell would use it."""
import os
import pty
import select
import time

from conftest import PASSWORD, certgate_bin, clean_env


def run_on_tty(args, answer, timeout=30):
    """Runs certgate with stdin/stdout/stderr on a pty; types `answer` at the prompt (if one
    appears). Returns (exit status, everything the terminal showed)."""
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.execve(certgate_bin(), [certgate_bin(), *[str(a) for a in args]], clean_env())
    shown = b""
    answered = False
    deadline = time.time() + timeout
    status = None
    while time.time() < deadline:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                chunk = b""
            if not chunk:
                break
            shown += chunk
            if not answered and b"password for" in shown:
                os.write(fd, answer.encode() + b"\n")
                answered = True
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = st
            break
    if status is None:
        _, status = os.waitpid(pid, 0)
    try:  # drain what is left
        while select.select([fd], [], [], 0.1)[0]:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            shown += chunk
    except OSError:
        pass
    os.close(fd)
    return os.waitstatus_to_exitcode(status), shown.decode(errors="replace")


def test_prompt_opens_pkcs12_without_echo(cg, pki):
    rc, shown = run_on_tty(["--store", cg.store_url, "cert", "add", "c1", pki.p12_modern], PASSWORD)
    assert rc == 0, shown
    assert "password for %s" % pki.p12_modern in shown, shown
    assert PASSWORD not in shown, "the password was echoed: %r" % shown
    assert "added client certificate 'c1'" in shown, shown
    assert list(cg.certs()) == ["c1"]


def test_prompt_wrong_password_stores_nothing(cg, pki):
    rc, shown = run_on_tty(["--store", cg.store_url, "cert", "add", "c1", pki.p12_modern], "not-it")
    assert rc == 1, shown
    assert "wrong password" in shown, shown
    assert "not-it" not in shown, shown
    assert cg.certs() == {}


def test_no_prompt_when_file_needs_no_password(cg, pki):
    rc, shown = run_on_tty(["--store", cg.store_url, "cert", "add", "c1", pki.p12_nopass], "unused")
    assert rc == 0, shown
    assert "password for" not in shown, shown
