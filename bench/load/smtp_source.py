"""Postfix's smtp-source as the load harness runs it: several at once (one per sink or per
domain), every one of which must succeed."""
import subprocess

SMTP_SOURCE = "/usr/sbin/smtp-source"


def run_all(argument_lists):
    """Starts one smtp-source per argument list and waits for all; returns how many ran."""
    sources = [subprocess.Popen([SMTP_SOURCE, *arguments], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE) for arguments in argument_lists]
    for source in sources:
        _, errors = source.communicate(timeout=3600)
        assert source.returncode == 0, errors.decode()[-500:]
    return len(sources)
