"""Templates and the one render helper every page uses.

Templates are Jinja, found by name ``<room>/<file>``: ``web/layout.html`` is
``governance/web/templates/layout.html``, ``privacy/landing.html`` is
``governance/privacy/templates/landing.html`` (each domain keeps its templates next to its
pages). A page's template extends ``web/layout.html`` and fills its ``title`` and
``content`` blocks; :func:`render` sends the whole page to a browser and only the
``content`` block (or the block a page names) to an HTMX request, so one template serves
both, and every page works without scripts.

Autoescaping is on; ``_()`` and ``{% trans %}`` translate into the request's language
(:mod:`governance.web.i18n`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode, urlsplit

from jinja2 import (
    Environment,
    FileSystemLoader,
    PrefixLoader,
    StrictUndefined,
    Template,
    nodes,
    pass_eval_context,
    select_autoescape,
)
from jinja2.compiler import CodeGenerator, Frame
from jinja2.environment import TemplateModule
from jinja2.nodes import EvalContext
from jinja2.runtime import Context
from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.enums import MediaType
from litestar.plugins.htmx import HTMXDetails
from litestar.plugins.jinja import JinjaTemplateEngine
from markupsafe import Markup, escape

from governance.core.identity import Identity
from governance.web import i18n, macros
from governance.web.config import Web
from governance.web.sessions import Session

PRODUCT: Final = "Governance"
GOVERNANCE_DIR: Final = Path(__file__).resolve().parents[1]
STATIC_DIR: Final = Path(__file__).resolve().parent / "static"
STATIC_PATH: Final = "/static"
# Where the shell keeps the request's page context, in the request's state.
PAGE_STATE: Final = "governance_page"
FORMS: Final = "web/forms.html"


@dataclass(frozen=True, slots=True)
class NavLink:
    """One entry of the navigation, as shown to one person."""

    path: str
    label: str
    current: bool


@dataclass(frozen=True, slots=True)
class LanguageLink:
    """One entry of the language switch."""

    tag: str
    html_lang: str
    name: str
    href: str
    current: bool


@dataclass(slots=True)
class PageContext:
    """What the layout needs about the request: who is signed in, what they may reach, the
    language, the CSRF token, and cookies to set with the answer. Built by the shell's
    middleware for every page request; templates read it as ``page``."""

    web: Web
    session: Session | None
    language: i18n.Language
    csrf_token: str
    navigation: list[NavLink] = field(default_factory=list)
    cookies: list[Cookie] = field(default_factory=list)
    # The language switch, made only when the footer is rendered (a kept footer needs none).
    language_switch: Callable[[], list[LanguageLink]] = list

    @property
    def languages(self) -> list[LanguageLink]:
        return self.language_switch()

    @property
    def user(self) -> Identity | None:
        return self.session.identity if self.session else None

    @property
    def product(self) -> str:
        return PRODUCT

    @property
    def return_url(self) -> str | None:
        """Where a mentee sent by the platform goes back to (portal sessions only)."""
        return self.session.return_url if self.session else None

    @property
    def return_host(self) -> str | None:
        return urlsplit(self.return_url).hostname if self.return_url else None


def environment() -> Environment:
    """The Jinja environment of every page: each room's ``templates/`` under its name."""
    rooms = {folder.parent.name: FileSystemLoader(folder) for folder in sorted(GOVERNANCE_DIR.glob("*/templates"))}
    env = _PageEnvironment(
        loader=PrefixLoader(rooms),
        autoescape=select_autoescape(default=True),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # Newstyle: Jinja fills the placeholders itself (escaping the values) with every variable
    # the template passes, ``num`` included, so these only look the translation up.
    env.install_gettext_callables(  # type: ignore[attr-defined]  # added by the i18n extension
        gettext=lambda message: i18n.active().translations.gettext(message),
        ngettext=lambda singular, plural, n: i18n.active().translations.ngettext(singular, plural, n),
        newstyle=True,
    )
    # The same newstyle semantics in one call each: Jinja's own wrappers go through three
    # context calls per ``_()``, which a page with fifty strings pays fifty times.
    env.globals.update(_=_GETTEXT, gettext=_gettext, ngettext=_ngettext)
    env.code_generator_class = _Compiler
    env.globals["static"] = static_url
    env.filters["datetime"] = i18n.format_datetime
    env.filters["date"] = i18n.format_date
    return env


@pass_eval_context
def _gettext(eval_ctx: EvalContext, message: str, /, **variables: Any) -> str:
    """Jinja's newstyle ``gettext``: translated, marked safe under autoescape, and always
    formatted (so ``%%`` reads ``%``), the values escaped by Markup."""
    translated: str = i18n.active().translations.gettext(message)
    if eval_ctx.autoescape:
        translated = Markup(translated)  # noqa: S704  # the catalog's text, as Jinja's own gettext marks it
    # Without a ``%`` formatting changes nothing, so it is skipped.
    return translated % variables if "%" in translated else translated


class _Gettext:
    """The templates' ``_``: called, it is :func:`_gettext`; under autoescape (every page)
    :class:`_Compiler` writes ``_(message)`` as ``_[message]``, the translation kept as
    Markup per catalog, and ``_(message, name=value)`` as :meth:`marked_with`: the same
    answers without the call through Jinja's context, which costs more than the lookup."""

    __slots__ = ()

    @pass_eval_context
    def __call__(self, eval_ctx: EvalContext, message: str, /, **variables: Any) -> str:
        return _gettext(eval_ctx, message, **variables)

    def __getitem__(self, message: str) -> Markup:
        return marked_message(i18n.active().translations, message)

    def marked_with(self, message: str, /, **variables: Any) -> Markup:
        """``_("literal", name=value)`` under autoescape, as :func:`_gettext` answers it (the
        values escaped by Markup's ``%``), without the call through Jinja's context."""
        translated = _catalog_markup(i18n.active().translations, message)
        return translated % variables if "%" in translated else translated


_GETTEXT: Final = _Gettext()


@lru_cache(maxsize=16384)
def _catalog_markup(translations: Any, message: str) -> Markup:
    """``message`` in ``translations``, marked safe as :func:`_gettext` marks it under
    autoescape. Catalogs are loaded once and never change."""
    return Markup(translations.gettext(message))  # noqa: S704  # the catalog's text, as _gettext marks it


@lru_cache(maxsize=16384)
def marked_message(translations: Any, message: str) -> Markup:
    """``message`` in ``translations``, marked safe and formatted, as :func:`_gettext` makes it
    under autoescape without variables (``%%`` reads ``%``)."""
    translated = _catalog_markup(translations, message)
    return translated % {} if "%" in translated else translated


# What ``getattr`` finds on a plain dict: its methods, nothing else (no instance __dict__).
_DICT_ATTRIBUTES: Final = frozenset(dir(dict))

try:  # markupsafe's escaping itself, without the Markup made around each result
    from markupsafe import _escape_inner as _escape_text  # type: ignore[attr-defined]  # not re-exported
except ImportError:  # pragma: no cover - a markupsafe without it

    def _escape_text(text: str, /) -> str:
        return str(escape(text))


def escape_output(value: Any) -> str:
    """``{{ value }}``'s text in a page: exactly markupsafe's ``escape`` (a value with
    ``__html__`` as it says, anything else escaped), as a plain string. Jinja makes a Markup
    of every piece it outputs, only to join them all at once: a table of fifty rows made
    hundreds."""
    if type(value) is str:
        return _escape_text(value)
    if hasattr(value, "__html__"):
        return str(value.__html__())
    return _escape_text(str(value))


class _PageEnvironment(Environment):
    """Jinja's environment, with ``row.field`` on a plain dict answered without an exception.

    Jinja tries the attribute first and, when it fails, the item; pages hand rows to their
    templates as dicts, so a table of fifty rows raised and caught hundreds of
    AttributeErrors. A dict's attributes are exactly its methods: for any other name the
    item is what Jinja would have found, so the answer is the same."""

    escape_output = staticmethod(escape_output)

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


class _Compiler(CodeGenerator):
    """Jinja's code generator, writing ``_(message)`` (autoescape on where it stands) as
    ``_[message]``, and ``_(message, name=value)`` as ``_.marked_with(message, name=value)``:
    see :class:`_Gettext`. Every other call is Jinja's own. Output where autoescape is on
    goes through :func:`escape_output`."""

    def _output_child_pre(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        if frame.eval_ctx.volatile or not frame.eval_ctx.autoescape:
            super()._output_child_pre(node, frame, finalize)
            return
        self.write("environment.escape_output(")
        if finalize.src is not None:
            self.write(finalize.src)

    def visit_Call(self, node: nodes.Call, frame: Frame, forward_caller: bool = False) -> None:
        [message] = node.args if len(node.args) == 1 else [None]
        translation = (
            isinstance(node.node, nodes.Name)
            and node.node.name == "_"
            and message is not None
            and node.dyn_args is None
            and node.dyn_kwargs is None
        )
        if (
            not translation
            or message is None
            or forward_caller
            or frame.eval_ctx.volatile
            or not frame.eval_ctx.autoescape
            or self.environment.is_async
        ):
            super().visit_Call(node, frame, forward_caller=forward_caller)
            return
        self.write("(")
        self.visit(node.node, frame)
        if not node.kwargs:
            self.write(")[")
            self.visit(message, frame)
            self.write("]")
            return
        self.write(").marked_with(")
        self.visit(message, frame)
        for keyword in node.kwargs:
            self.write(f", {keyword.key}=")
            self.visit(keyword.value, frame)
        self.write(")")


@pass_eval_context
def _ngettext(eval_ctx: EvalContext, singular: str, plural: str, num: int, /, **variables: Any) -> str:
    """Jinja's newstyle ``ngettext`` (``num`` among the variables unless the template names it)."""
    variables.setdefault("num", num)
    translated: str = i18n.active().translations.ngettext(singular, plural, num)
    if eval_ctx.autoescape:
        translated = Markup(translated)  # noqa: S704  # the catalog's text, as Jinja's own gettext marks it
    return translated % variables if "%" in translated else translated


def template_engine() -> JinjaTemplateEngine:
    """The environment as Litestar's template engine (``TemplateConfig(instance=...)``)."""
    return JinjaTemplateEngine.from_environment(environment())


@cache
def static_url(name: str) -> str:
    """The URL of a file in ``governance/web/static``, versioned by its content so that it
    can be cached for a year and still change with a release."""
    path = (STATIC_DIR / name).resolve()
    if not path.is_relative_to(STATIC_DIR) or not path.is_file():
        raise ValueError(f"no static file {name!r}")
    version = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return f"{STATIC_PATH}/{name}?{urlencode({'v': version})}"


def page_context(request: Request[Any, Any, Any]) -> PageContext:
    """The page context the shell built for ``request``."""
    context: PageContext = page_state(request.scope)[PAGE_STATE]
    return context


def page_state(scope: Any) -> dict[str, Any]:
    """Where the shell keeps what it knows of a request (the scope's state, shared by every layer)."""
    state: dict[str, Any] = scope.setdefault("state", {})
    return state


def is_fragment_request(request: Request[Any, Any, Any]) -> bool:
    """An HTMX request that swaps part of a page (not a boosted link or a history restore)."""
    htmx = HTMXDetails(request)
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


# The page being rendered, for the macros of web/forms.html (made once, see _forms_module).
_rendering: ContextVar[PageContext] = ContextVar("governance_page")


class _CurrentPage:
    """``page`` as the shared forms module sees it: the page context of the render under way."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        return getattr(_rendering.get(), name)


@cache
def _forms_module(forms: Template) -> TemplateModule:
    """The macros of web/forms.html, made once per compiled template rather than per request:
    what they need of the request (the CSRF token) they read from the render under way.

    Every macro but ``table`` is answered by its Python twin in :mod:`governance.web.macros`:
    the same HTML without a macro call (a page calls them per row and per input)."""
    module = forms.make_module({"page": _CurrentPage()})
    twins = macros.FormMacros(_GETTEXT.__getitem__, lambda: _rendering.get().csrf_token)
    # The macros' attributes, as Jinja made them: replaced by functions writing the same HTML.
    for name in macros.PLAIN:
        setattr(module, name, getattr(macros, name))
    for name in macros.OF_THE_PAGE:
        setattr(module, name, getattr(twins, name))
    return module


@dataclass(slots=True)
class _Published:
    """A public page's rendered content, with the objects it was rendered from (compared by
    identity, so a new configuration is never answered with the old page)."""

    source: tuple[object, ...]
    body: str


# Keyed by (template, block, language, tag); kept on the application's state, so every
# application (every test) has its own.
PUBLISHED_STATE: Final = "governance_published_pages"
# The blocks pages share between the people who see them (see render's ``shared``), keyed
# by (template, block, language, tag), the least recently used out past SHARED_CAPACITY.
SHARED_STATE: Final = "governance_shared_blocks"
SHARED_CAPACITY: Final = 1024
# Whole pages every block of which is shared (render's ``shared`` naming LAYOUT_BLOCKS), with
# the layout around them as one reader sees it, keyed by (template, status, tag, layout key),
# the least recently used out past SHARED_CAPACITY.
SHARED_PAGES_STATE: Final = "governance_shared_pages"
LAYOUT_BLOCKS: Final = frozenset({"title", "content"})
LAYOUT: Final = "web/layout.html"
# The layout's blocks that read nothing of a page (see _keep_layout).
LAYOUT_KEPT: Final = ("site_header", "site_footer")


def render(
    request: Request[Any, Any, Any],
    template: str,
    context: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
    *,
    status_code: int = 200,
    fragment: str = "content",
    headers: Mapping[str, str] | None = None,
    published: tuple[Hashable, tuple[object, ...]] | None = None,
    shared: tuple[tuple[str, ...], Hashable, tuple[object, ...]] | None = None,
) -> Response[str]:
    """Answer ``request`` with ``template``: the whole page, or for an HTMX request only
    its ``fragment`` block (``content`` unless named). The template sees ``context``, the
    ``request`` and the shell's ``page`` (user, navigation, language, CSRF token).

    ``published=(tag, sources)``: the ``fragment`` block is a public document rendered from
    ``sources`` only (configuration loaded at start, no personal data, no form); for a
    signed-out visitor it is rendered once per language and kept while ``sources`` are the
    same objects (``context`` may then be a function, called only when it is rendered). The
    layout around it (CSRF token, language switch) is rendered for every request.

    ``shared=(blocks, tag, sources)``: each of ``blocks`` inside the page (a report's figures
    and charts, a dossier's record) reads nothing but ``sources`` (values kept by a cache,
    the same objects while they hold), constants, and what ``tag`` says (a page puts in it
    whatever of the person asking the block depends on). So it is rendered once per
    language and ``tag`` and kept while ``sources`` are the same objects, whoever asks; the
    rest of the page is rendered for every request. Its forms are rendered with a
    placeholder for the CSRF token, which each answer replaces with the request's own.
    When ``blocks`` name both of the layout's (``title`` and ``content``), the whole page is
    kept that way too, per reader and address (the layout reads nothing else, see
    ``_layout_key``): asked again, it costs a lookup and the token's replacement (``context``
    may then be a function, called only when the page is rendered)."""
    engine = request.app.template_engine
    assert isinstance(engine, JinjaTemplateEngine), "the shell configures a Jinja template engine"
    compiled = engine.get_template(template)
    page = page_context(request)
    cache: dict[Hashable, _Published] | None = None
    key: Hashable = None
    if published is not None and page.session is None:
        cache = request.app.state.setdefault(PUBLISHED_STATE, {})
        key = (template, fragment, page.language.tag, published[0])
        kept = cache.get(key)
        if kept is not None and _same(kept.source, published[1]):
            return _answer(request, engine, compiled, {}, page, fragment, kept.body, status_code, headers)
    whole: Hashable = None
    if shared is not None and LAYOUT_BLOCKS.issubset(shared[0]) and not is_fragment_request(request):
        # Every block of the page is shared: the whole page is kept, for the layout around it too.
        pages: OrderedDict[Hashable, _Published] = request.app.state.setdefault(SHARED_PAGES_STATE, OrderedDict())
        whole = (template, status_code, shared[1], _layout_key(request, page))
        kept = pages.get(whole)
        if kept is not None and _same(kept.source, shared[2]):
            pages.move_to_end(whole)
            return _response(_with_token(kept.body, page), status_code, headers)
    if callable(context):
        context = context()
    # A page kept whole is rendered as anyone would see it (the placeholder for the token).
    reader = page if whole is None else dataclasses.replace(page, csrf_token=_SHARED_TOKEN)
    variables: dict[str, Any] = {**(context or {}), "request": request, "page": reader}
    body: str | None = None
    token = _rendering.set(reader)
    try:
        # The macros, for the page and for a fragment alike.
        variables["forms"] = _forms_module(engine.engine.get_template(FORMS))
        if cache is not None and published is not None:
            content = _concat(compiled.blocks[fragment](compiled.new_context(variables)))
            cache[key] = _Published(published[1], content)
            return _answer(request, engine, compiled, variables, page, fragment, content, status_code, headers)
        context_ = compiled.new_context(variables)
        # Kept blocks write the token of the page they are given: the reader's own, or for a
        # page kept whole the placeholder, replaced below in every answer.
        if shared is not None:
            _share_blocks(request, template, context_, reader, shared)
        if is_fragment_request(request):
            body = _concat(compiled.blocks[fragment](context_))
        else:
            _keep_layout(request, context_, reader)
            body = _concat(compiled.root_render_func(context_))
    finally:
        _rendering.reset(token)
    if whole is not None and shared is not None:
        pages[whole] = _Published(shared[2], body)
        while len(pages) > SHARED_CAPACITY:
            pages.popitem(last=False)
        body = _with_token(body, page)
    return _response(body, status_code, headers)


def _share_blocks(
    request: Request[Any, Any, Any],
    template: str,
    context: Context,
    page: PageContext,
    shared: tuple[tuple[str, ...], Hashable, tuple[object, ...]],
) -> None:
    """Have ``context``'s shared blocks taken from their kept renderings, or rendered where
    they stand (after the template's own top-level code) and kept for their sources."""
    names, tag, sources = shared
    kept_blocks: OrderedDict[Hashable, _Published] = request.app.state.setdefault(SHARED_STATE, OrderedDict())
    for name in names:
        key = (template, name, page.language.tag, tag)
        if not context.blocks.get(name):
            raise ValueError(f"{template} has no block {name!r} to share")
        own = context.blocks[name][0]

        def block(
            current: Context, key: Hashable = key, own: Callable[[Context], Iterator[str]] = own
        ) -> Iterator[str]:
            kept = kept_blocks.get(key)
            if kept is not None and _same(kept.source, sources):
                kept_blocks.move_to_end(key)
                content = kept.body
            else:
                content = _render_shared(own, current, page)
                kept_blocks[key] = _Published(sources, content)
                kept_blocks.move_to_end(key)
                while len(kept_blocks) > SHARED_CAPACITY:
                    kept_blocks.popitem(last=False)
            # The forms of a shared block carry this request's own CSRF token.
            yield _with_token(content, page)

        context.blocks[name] = [block]


# What a shared block is rendered with in place of the CSRF token (a session's secret):
# random per process, so no text a person writes can hold it; each request's answer has
# its own token put in its place.
_SHARED_TOKEN: Final = "shared-csrf-" + secrets.token_urlsafe(24)


def _keep_layout(request: Request[Any, Any, Any], context: Context, page: PageContext) -> None:
    """Have the layout's header and footer taken from their kept renderings (per reader and
    address, see ``_layout_key``), or rendered and kept: every page has them."""
    if LAYOUT_KEPT[0] in context.blocks:
        _share_blocks(request, LAYOUT, context, page, (LAYOUT_KEPT, _layout_key(request, page), ()))


def _with_token(shared: str, page: PageContext) -> str:
    """``shared`` (rendered with the placeholder token) with the request's own in its place."""
    return shared.replace(_SHARED_TOKEN, str(escape(page.csrf_token))) if _SHARED_TOKEN in shared else shared


def _layout_key(request: Request[Any, Any, Any], page: PageContext) -> Hashable:
    """Everything the layout reads of a request but its CSRF token: the language, who is
    signed in and how (the navigation follows their roles), and the address (the current
    link, the language switch's links)."""
    session = page.session
    who = None if session is None else (session.identity.sub, session.identity.roles, session.kind, session.return_url)
    return (page.language.tag, who, request.scope["path"], request.scope["query_string"])


def _render_shared(own: Callable[[Context], Iterator[str]], current: Context, page: PageContext) -> str:
    """A shared block as anyone would see it: the page it reads (``page`` in the template, and
    the forms' CSRF field) holds the placeholder token, never this request's."""
    anyone = dataclasses.replace(page, csrf_token=_SHARED_TOKEN)
    token = _rendering.set(anyone)
    try:
        return _concat(own(current.derived({"page": anyone})))
    finally:
        _rendering.reset(token)


def _same(kept: tuple[object, ...], sources: tuple[object, ...]) -> bool:
    return len(kept) == len(sources) and all(a is b for a, b in zip(kept, sources, strict=True))


def _concat(parts: Iterator[str]) -> str:
    return "".join(parts)


def _answer(
    request: Request[Any, Any, Any],
    engine: JinjaTemplateEngine,
    compiled: Template,
    variables: dict[str, Any],
    page: PageContext,
    fragment: str,
    content: str,
    status_code: int,
    headers: Mapping[str, str] | None,
) -> Response[str]:
    """The page around an already rendered ``fragment`` block (only the block to HTMX); the
    other blocks (the title) see ``variables``, which are empty when the block was kept."""
    if is_fragment_request(request):
        return _response(content, status_code, headers)

    def block(_: Context) -> Iterator[str]:
        yield content

    variables = {**variables, "request": request, "page": page}
    token = _rendering.set(page)
    try:
        variables["forms"] = _forms_module(engine.engine.get_template(FORMS))
        context = compiled.new_context(variables)
        context.blocks[fragment] = [block]
        _keep_layout(request, context, page)
        body = _concat(compiled.root_render_func(context))
    finally:
        _rendering.reset(token)
    return _response(body, status_code, headers)


def _response(body: str, status_code: int, headers: Mapping[str, str] | None) -> Response[str]:
    return Response(
        body,
        status_code=status_code,
        media_type=MediaType.HTML,
        headers={"Vary": "HX-Request", **(headers or {})},
    )


def language_links(web: Web, current: i18n.Language, path: str, query: Iterable[tuple[str, str]]) -> list[LanguageLink]:
    """The switch: every language, each a link to this page in it (``?lang=``)."""
    kept = [(name, value) for name, value in query if name != "lang"]
    return [
        LanguageLink(
            tag=language.tag,
            html_lang=language.html_lang,
            name=language.name,
            href=f"{path}?{urlencode([*kept, ('lang', language.tag)])}",
            current=language.tag == current.tag,
        )
        for language in web.catalogs.languages.values()
    ]
