"""Renders a terminal capture (tmux capture-pane -e: text with SGR colour escapes) as a
standalone HTML page, so that headless Chromium can take a screenshot of the live board."""
import html
import re
import sys

COLORS = ["#2e3436", "#cc0000", "#4e9a06", "#c4a000", "#3465a4", "#75507b", "#06989a", "#d3d7cf"]
BRIGHT = ["#555753", "#ef2929", "#8ae234", "#fce94f", "#729fcf", "#ad7fa8", "#34e2e2", "#eeeeec"]
SGR = re.compile(r"\x1b\[([0-9;]*)m")


def style(state):
    css = []
    if state.get("fg"):
        css.append("color:" + state["fg"])
    if state.get("bold"):
        css.append("font-weight:bold")
    if state.get("dim"):
        css.append("opacity:0.7")
    return ";".join(css)


def render(text):
    out, state, pos = [], {}, 0
    for m in SGR.finditer(text):
        out.append(span(text[pos:m.start()], state))
        for code in [int(c) if c else 0 for c in m.group(1).split(";")]:
            if code == 0:
                state = {}
            elif code == 1:
                state["bold"] = True
            elif code == 2:
                state["dim"] = True
            elif code == 22:
                state.pop("bold", None)
                state.pop("dim", None)
            elif 30 <= code <= 37:
                state["fg"] = COLORS[code - 30]
            elif 90 <= code <= 97:
                state["fg"] = BRIGHT[code - 90]
            elif code == 39:
                state.pop("fg", None)
        pos = m.end()
    out.append(span(text[pos:], state))
    return "".join(out)


def span(s, state):
    if not s:
        return ""
    st = style(state)
    return '<span style="%s">%s</span>' % (st, html.escape(s)) if st else html.escape(s)


def main():
    text = open(sys.argv[1], encoding="utf-8", errors="replace").read().rstrip("\n")
    title = sys.argv[3] if len(sys.argv) > 3 else "pipewright"
    page = (
        "<!doctype html><meta charset=utf-8><title>%s</title><style>"
        "body{margin:0;background:#1e1e1e}"
        "pre{margin:0;padding:14px 16px;color:#d3d7cf;background:#1e1e1e;"
        "font:14px/1.35 'DejaVu Sans Mono',monospace;white-space:pre}"
        "</style><pre>%s</pre>" % (html.escape(title), render(text))
    )
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        f.write(page)


if __name__ == "__main__":
    main()
