"""Fitting tables to a terminal, choosing a pager and a colour: pure functions, no terminal needed."""

from __future__ import annotations

import pytest

from jobsync.output import cell_width, clip, colour_of, fit_widths, pager_command, table_lines


class TestFitWidths:
    def test_a_table_that_fits_keeps_its_widths(self) -> None:
        """Nothing shrinks when the row already fits."""
        assert fit_widths([10, 5, 8], [3, 3, 3], available=40) == [10, 5, 8]

    def test_the_widest_column_shrinks_first(self) -> None:
        """Only the widest column gives up room while it is the widest."""
        assert fit_widths([40, 5, 8], [3, 3, 3], available=30) == [13, 5, 8]

    def test_the_widest_columns_shrink_to_a_common_cap(self) -> None:
        """Two wide columns end equally wide, and the row fills the width exactly or just under it."""
        widths = fit_widths([40, 30, 4], [3, 3, 3], available=44)
        assert widths[0] == widths[1] and widths[2] == 4
        assert sum(widths) + 2 * 2 <= 44 and sum(widths) + 2 * 2 >= 43

    def test_no_column_goes_below_its_floor(self) -> None:
        """When even the floors do not fit, the floors are the answer (the caller cuts further)."""
        assert fit_widths([40, 30], [10, 10], available=5) == [10, 10]


class TestClip:
    def test_a_short_cell_is_kept(self) -> None:
        assert clip("netops", 6) == "netops"

    def test_a_long_cell_ends_with_an_ellipsis_and_fits(self) -> None:
        """A cut cell is exactly the width, its last column the ellipsis."""
        assert clip("netops:jobs.backup.Backup", 10) == "netops:jo…"
        assert cell_width(clip("netops:jobs.backup.Backup", 10)) == 10

    def test_wide_characters_count_twice(self) -> None:
        """East Asian wide characters take two columns, so a cut never overflows the width."""
        assert cell_width("ジョブ") == 6
        cut = clip("ジョブの説明", 7)
        assert cut == "ジョブ…" and cell_width(cut) <= 7


class TestTableLines:
    HEADERS = ("REF", "NAME", "STATUS")
    ROWS = (
        ("netops:jobs.backup.BackupConfigs", "Backup configs", "ok"),
        ("netops:jobs.verify.VerifyInterfaces", "Verify", "failing (no such ref)"),
    )

    def test_without_a_width_cells_are_whole_and_aligned(self) -> None:
        """Piped output: every cell whole, columns padded to the widest cell, no trailing spaces."""
        lines = table_lines(self.HEADERS, self.ROWS)
        assert lines[1].startswith("netops:jobs.backup.BackupConfigs     Backup configs  ok")
        assert lines[2].endswith("failing (no such ref)")
        assert lines[0].index("NAME") == lines[1].index("Backup configs") == lines[2].index("Verify ")
        assert all(line == line.rstrip() for line in lines)

    @pytest.mark.parametrize("width", [80, 60, 40, 24])
    def test_with_a_width_no_line_is_longer(self, width: int) -> None:
        """At any terminal width every line fits, and a cut cell ends in ``…``."""
        lines = table_lines(self.HEADERS, self.ROWS, width=width)
        assert all(cell_width(line) <= width for line in lines), lines
        assert len(lines) == 3
        if width < 70:
            assert "…" in lines[1]

    def test_no_headers(self) -> None:
        """Without headers only the rows are printed."""
        lines = table_lines(self.HEADERS, self.ROWS, headers_shown=False)
        assert len(lines) == 2 and lines[0].startswith("netops:")

    def test_colour_paints_the_status_column_only_and_keeps_alignment(self) -> None:
        """A painted status keeps the columns aligned: only the cell's text is wrapped in escapes."""
        import click

        lines = table_lines(
            ("STATUS", "NAME"), (("failing", "a"), ("ok", "b")), colour=True, coloured=("STATUS",)
        )
        plain = [click.unstyle(line) for line in lines]
        assert plain == ["STATUS   NAME", "failing  a", "ok       b"]
        assert "\x1b[31m" in lines[1] and "\x1b[32m" in lines[2] and "\x1b[" not in lines[0]


class TestPagerCommand:
    @pytest.mark.parametrize(
        ("environ", "expected"),
        [
            ({"JOBSYNC_PAGER": "most", "PAGER": "more"}, "most"),
            ({"PAGER": "more"}, "more"),
            ({"JOBSYNC_PAGER": "", "PAGER": "more"}, None),
            ({"JOBSYNC_PAGER": "cat"}, None),
            ({"PAGER": " cat "}, None),
        ],
    )
    def test_which_pager(self, environ: dict[str, str], expected: str | None) -> None:
        """$JOBSYNC_PAGER wins over $PAGER; empty or ``cat`` turns paging off."""
        assert pager_command(environ) == expected

    def test_less_by_default(self) -> None:
        """With neither variable set, ``less -FRX`` (when less is installed)."""
        import shutil

        assert pager_command({}) == ("less -FRX" if shutil.which("less") else None)


class TestColours:
    @pytest.mark.parametrize(
        ("text", "colour"),
        [
            ("failing (no such ref)", "red"),
            ("errored", "red"),
            ("error", "red"),
            ("completed", "green"),
            ("ok", "green"),
            ("running", "yellow"),
            ("pending", "yellow"),
            ("warning", "yellow"),
            ("will not fire: the schedule is disabled", "yellow"),
            ("netops", None),
        ],
    )
    def test_status_colours(self, text: str, colour: str | None) -> None:
        """Bad red, good green, in progress or doubtful yellow, anything else plain."""
        assert colour_of(text) == colour
