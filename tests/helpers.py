"""Small data writers shared by tests."""

from pathlib import Path

FLAGS = "|".join(["0"] * 19)


def write_ml(dir: Path, data_lines=None) -> Path:
    dir.mkdir(parents=True, exist_ok=True)
    horror = "|".join("1" if i == 11 else "0" for i in range(19))
    (dir / "u.item").write_text(
        f"1|Toy Story (1995)|01-Jan-1995||http://x|{FLAGS}\n"
        f"2|Shining, The (1980)|01-Jan-1980||http://x|{horror}\n"
        f"267|unknown||||{'|'.join(['1'] + ['0'] * 18)}\n",
        encoding="latin-1",
    )
    (dir / "u.data").write_text(
        "".join(data_lines or ["10\t1\t5\t881250949\n", "10\t2\t3\t881250950\n", "11\t2\t4\t881250951\n"])
    )
    (dir / "u.user").write_text("10|24|M|technician|85711\n11|53|F|other|94043\n")
    return dir
