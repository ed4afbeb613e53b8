"""The bad-input suite's count (printed at the end of the run) and its in-process recipe runner."""

import logging
import os
import sys

import pytest

from bad_input_support import KINDS, ROOT, import_recipe

_OUTCOMES = {}  # nodeid -> (kind, passed)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    case = getattr(item, "callspec", None) and item.callspec.params.get("case")
    if case is None or report.skipped:
        return
    passed = _OUTCOMES.get(item.nodeid, (case.kind, True))[1] and report.passed
    if report.when == "call" or not report.passed:
        _OUTCOMES[item.nodeid] = (case.kind, passed)


def pytest_terminal_summary(terminalreporter):
    if not _OUTCOMES:
        return
    passed = [kind for kind, ok in _OUTCOMES.values() if ok]
    counts = {kind: passed.count(kind) for kind in KINDS}
    failed = len(_OUTCOMES) - len(passed)
    terminalreporter.write_line(
        f"bad-input suite: {len(_OUTCOMES)} inputs tried, {counts['error']} clear errors, {counts['skip']} logged "
        f"skips, {counts['handled']} handled, {failed} silent failures (a failed case: a wrong result, or an "
        "error that does not name the input and the fix)")


@pytest.fixture
def run_recipe():
    """`run_recipe("recipes/X/train.py", argv)`: the script's main(argv) in this process (no interpreter start,
    no imports again), with its folder first on sys.path as `python train.py` has it (YAMLs name the recipe's own
    modules, e.g. `!new:loss_history.LossHistory`), and what SpeechBrain's create_experiment_directory changes
    (the root logger's handlers and level, sys.excepthook) put back afterwards."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level, sys.excepthook

    def run(script, argv):
        folder = os.path.dirname(os.path.join(ROOT, script))
        sys.path.insert(0, folder)
        try:
            import_recipe(script).main([str(a) for a in argv])
        finally:
            sys.path.remove(folder)

    yield run
    for handler in root.handlers[:]:
        if handler not in saved[0]:
            root.removeHandler(handler)
            handler.close()
    for handler in saved[0]:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(saved[1])
    sys.excepthook = saved[2]
