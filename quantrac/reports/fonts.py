"""The typeface the PDF embeds: DejaVu Sans, which has every Vietnamese letter (ơ, ư, đ and the
stacked tone marks: ệ, ộ, ữ).

Looked up in the system's fonts first (Debian's ``fonts-dejavu-core`` or ``fonts-noto-core``),
then in matplotlib's own copy of DejaVu, which is installed with quantrac: a report renders on
a slim container too. fpdf2 embeds the subset of glyphs the report uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

SYSTEM_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/truetype/noto"),
)
# (regular, bold) file names, in order of preference.
FACES = (
    ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
    ("NotoSans-Regular.ttf", "NotoSans-Bold.ttf"),
)


@dataclass(frozen=True, slots=True)
class FontFiles:
    regular: Path
    bold: Path

    @property
    def family(self) -> str:
        return self.regular.stem.split("-")[0]


def report_font(extra_dirs: tuple[Path, ...] = ()) -> FontFiles:
    """The first complete (regular and bold) face found; FileNotFoundError says how to get one."""
    bundled = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    for directory in (*extra_dirs, *SYSTEM_DIRS, bundled):
        for regular, bold in FACES:
            if (directory / regular).is_file() and (directory / bold).is_file():
                return FontFiles(directory / regular, directory / bold)
    raise FileNotFoundError(
        "no DejaVu Sans or Noto Sans font for the report's Vietnamese text: "
        "apt-get install fonts-dejavu-core (or reinstall matplotlib, which ships DejaVu)"
    )
