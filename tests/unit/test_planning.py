"""The mass-uninstall guard: how many uninstalls one sync may make, decided from counts alone."""

from __future__ import annotations

import pytest

from jobsync.domain.errors import MassUninstallError
from jobsync.domain.planning import check_uninstalls, max_uninstall_problem


class TestDefaultLimit:
    @pytest.mark.parametrize(
        ("uninstalling", "installed"),
        [(0, 0), (4, 4), (4, 5), (5, 10), (6, 12), (50, 100), (1, 1)],
    )
    def test_allowed(self, uninstalling: int, installed: int) -> None:
        """Fewer than five uninstalls, or no more than half of the installed jobs, pass."""
        check_uninstalls("netops", uninstalling, installed, None)

    @pytest.mark.parametrize(("uninstalling", "installed"), [(5, 9), (5, 5), (6, 11), (51, 100)])
    def test_refused(self, uninstalling: int, installed: int) -> None:
        """At least five uninstalls that are more than half of the installed jobs are refused."""
        with pytest.raises(MassUninstallError) as caught:
            check_uninstalls("netops", uninstalling, installed, None)
        message = str(caught.value)
        assert f"{uninstalling} of {installed}" in message
        assert "--allow-mass-uninstall" in message and "max_uninstall" in message
        assert "\n" not in message
        assert caught.value.uninstalling == uninstalling and caught.value.installed == installed


class TestConfiguredLimit:
    @pytest.mark.parametrize(
        ("uninstalling", "installed", "limit", "allowed"),
        [
            (8, 10, 8, True),
            (9, 10, 8, False),
            (1, 10, 0, False),
            (0, 10, 0, True),
            (2, 10, "20%", True),
            (3, 10, "20%", False),
            (10, 10, "100%", True),
            (1, 10, "0%", False),
            (1, 3, "50%", True),
            (2, 3, "50%", False),  # half of three is one and a half: one is allowed, rounded down
            (1, 2, "50%", True),
            (4, 4, 3, False),  # a configured limit replaces the default floor of five
        ],
    )
    def test_limit_allows_or_refuses(
        self, uninstalling: int, installed: int, limit: int | str, allowed: bool
    ) -> None:
        """``max_uninstall`` is a count or a percentage of the installed jobs, and replaces the default rule."""
        if allowed:
            check_uninstalls("netops", uninstalling, installed, limit)
            return
        with pytest.raises(MassUninstallError) as caught:
            check_uninstalls("netops", uninstalling, installed, limit)
        assert f"limit of {limit} set by max_uninstall" in str(caught.value)


class TestLimitValues:
    @pytest.mark.parametrize("value", [0, 5, 1000, "0%", "20%", "100%", "12.5%"])
    def test_good_values(self, value: int | str) -> None:
        """A count of zero or more, or a percentage from 0 to 100, is a limit."""
        assert max_uninstall_problem(value) is None

    @pytest.mark.parametrize("value", [-1, True, 1.5, "20", "120%", "-5%", "%", "lots", [5]])
    def test_bad_values(self, value: object) -> None:
        """Anything else is refused with a sentence saying what a limit looks like."""
        problem = max_uninstall_problem(value)
        assert problem is not None and "count" in problem and "%" in problem
