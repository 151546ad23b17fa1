from spinedetect import __version__
from spinedetect.cli.main import main


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"spinedetect {__version__}"


def test_unknown_command_is_exit_2_one_line(capsys):
    assert main(["frobnicate"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown command 'frobnicate'" in err[0]


def test_no_command_prints_usage_and_fails(capsys):
    assert main([]) == 2
    assert "usage: spinedetect" in capsys.readouterr().err


def test_logging_follows_the_current_stderr(capsys):
    import logging

    from spinedetect.cli.common import configure_logging

    configure_logging(1)
    logging.getLogger("spinedetect.test").info("hello from the log")
    assert "hello from the log" in capsys.readouterr().err
    configure_logging(0)
