"""The pages: landing, holder, merchant and admin (Jinja2 shells, static JS and CSS).

Everything the pages do goes through the same public HTTP API as any other client; this
package only serves documents, scripts and the service worker.
"""

from cardservice.web.pages import install

__all__ = ["install"]
