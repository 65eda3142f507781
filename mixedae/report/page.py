"""One self-contained HTML page: headings, paragraphs, tables and PNG figures embedded as
``data:`` URIs, so that the file can be mailed or opened anywhere on its own."""
import base64
import html
from pathlib import Path
from typing import Optional, Sequence

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1400px;
       color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; }
th { background: #f2f2f2; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { display: inline-block; margin: 0.5em 1em 1em 0; vertical-align: top; }
figcaption { font-size: 0.85em; color: #555; max-width: 40em; }
img { max-width: 100%; border: 1px solid #ddd; }
p.note { color: #555; font-size: 0.9em; max-width: 60em; }
"""


def escape(text: object) -> str:
    return html.escape(str(text), quote=True)


def png_data_uri(path: Path) -> str:
    """A PNG file as a ``data:image/png;base64,...`` URI (the page holds the image)."""
    data = Path(path).read_bytes()
    if not data.startswith(b'\x89PNG\r\n\x1a\n'):
        raise ValueError(f'{path}: not a PNG file')
    return 'data:image/png;base64,' + base64.b64encode(data).decode('ascii')


def figure(path: Path, caption: str, alt: Optional[str] = None) -> str:
    """An embedded PNG with its caption."""
    return (f'<figure><img src="{png_data_uri(path)}" alt="{escape(alt or caption)}">'
            f'<figcaption>{escape(caption)}</figcaption></figure>')


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], table_id: str = '',
          numeric_from: int = 1) -> str:
    """An HTML table; columns from ``numeric_from`` on are right-aligned numbers."""
    head = ''.join(f'<th>{escape(h)}</th>' for h in headers)
    body = ''.join(
        '<tr>' + ''.join(f'<td class="num">{escape(c)}</td>' if i >= numeric_from
                         else f'<td>{escape(c)}</td>' for i, c in enumerate(row)) + '</tr>'
        for row in rows)
    ident = f' id="{escape(table_id)}"' if table_id else ''
    return f'<table{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def paragraph(text: str, note: bool = False) -> str:
    return f'<p{" class=note" if note else ""}>{escape(text)}</p>'


def section(title: str, *parts: str) -> str:
    return f'<section><h2>{escape(title)}</h2>{"".join(parts)}</section>'


def page(title: str, *sections: str) -> str:
    """The whole document."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<title>{escape(title)}</title><style>{STYLE}</style></head>'
            f'<body><h1>{escape(title)}</h1>{"".join(sections)}</body></html>\n')
