"""The pages' shell: what every page of every domain stands on.

What a domain's ``pages.py`` uses (see README, "Pages"):

- :func:`governance.web.rendering.render` answers a request with a template: the whole
  page, or only its ``content`` block for an HTMX request;
- :func:`governance.web.forms.read_form` decodes a form into an ``Input`` Struct, with
  errors keyed by field, to show beside them (the macros of ``web/forms.html``);
- :func:`governance.web.i18n.N_` marks a string for translation where it is declared,
  :func:`governance.web.i18n.gettext` translates one in code (``_()`` in templates);
- ``opt={"navigation": N_("Label")}`` on a GET handler puts it in the navigation of the
  roles the policy lets reach it;
- :func:`governance.web.rendering.page_context` tells who is signed in
  (``page_context(request).user``), though ``request.user`` says it too.

The rest is the shell's own: :class:`governance.web.shell.Shell` (the Litestar plugin the
application adds, with every domain's ``PAGES``), sessions and sign-in links
(:mod:`governance.web.sessions`), CSRF and security headers
(:mod:`governance.web.security`), error pages (:mod:`governance.web.errors`), and the
shell's own pages (:mod:`governance.web.pages`: home, sign-in, sign-out).
"""
