"""A room template's colours and logo, served to the room pages.

The pages allow only the app's own styles (Content-Security-Policy), so a
template's colours come as a small stylesheet of our own that sets the
variables `style.css` paints with, and its logo as an image of our own. Both
are public, as any page's look is; the links carry the template's version, so
an edited template is fetched afresh.
"""

from __future__ import annotations

import tornado.web

from ..directory import Colours, RoomTemplate
from .base import Base

# The variables of style.css each colour sets; the accent's hover shade is derived.
_VARIABLES = (("accent", "--brand"), ("background", "--bg"), ("text", "--ink"))
_HOVER_SHADE = 0.82                # the accent, darkened, for buttons under the pointer


def stylesheet(template: RoomTemplate) -> str:
    """The CSS that paints a room in its template's colours (nothing set: the page's own)."""
    colours = template.colours.given()
    lines = [f"  {variable}: {colours[name]};" for name, variable in _VARIABLES
             if name in colours]
    if "accent" in colours:
        lines.append(f"  --brand-dark: {darker(colours['accent'])};")
    rules = ":root {\n" + "\n".join(lines) + "\n}\n" if lines else ""
    return f"/* the colours of room template {template.name} */\n{rules}"


def darker(colour: str) -> str:
    """A `#rgb` or `#rrggbb` colour darkened by `_HOVER_SHADE`, as `#rrggbb`."""
    digits = colour[1:]
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    channels = (int(digits[i:i + 2], 16) for i in (0, 2, 4))
    return "#" + "".join(f"{round(c * _HOVER_SHADE):02x}" for c in channels)


def has_colours(colours: Colours) -> bool:
    """Whether a template sets any colour (its pages then link its stylesheet)."""
    return bool(colours.given())


class LookStyle(Base):
    """A room template's colours, at /rooms/looks/{name}.css."""

    def get(self, name: str) -> None:
        """Send the stylesheet (the default look's, empty, for a name nobody defined)."""
        self.set_header("Content-Type", "text/css; charset=UTF-8")
        self.set_header("Cache-Control", "no-cache")         # revalidated: tornado's ETag
        self.finish(stylesheet(self.app.rooms.look(name)))


class LookLogo(Base):
    """A room template's logo, at /rooms/looks/{name}/logo."""

    def get(self, name: str) -> None:
        """Send the logo; 404 for a template without one."""
        logo = self.app.rooms.look(name).logo
        if logo is None:
            raise tornado.web.HTTPError(404)
        self.set_header("Content-Type", logo.content_type)
        self.set_header("Cache-Control", "no-cache")
        self.set_header("Content-Disposition", "inline")
        self.finish(logo.data)


ROUTES: tuple[tuple[str, type[tornado.web.RequestHandler]], ...] = (
    (r"/rooms/looks/([\w-]+)\.css", LookStyle),
    (r"/rooms/looks/([\w-]+)/logo", LookLogo),
)
