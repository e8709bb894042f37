"""The pages. Each module adds its routes to `api.web.site.web` and its navigation entry;
importing this package registers them all. A new page: a module here, one import below."""

import api.web.pages.access
import api.web.pages.audit
import api.web.pages.auth
import api.web.pages.compare
import api.web.pages.diff
import api.web.pages.home
import api.web.pages.imports
import api.web.pages.inbox
import api.web.pages.integrations
import api.web.pages.notifications
import api.web.pages.objective
import api.web.pages.replay
import api.web.pages.sources
import api.web.pages.strategy
import api.web.pages.tokens
import api.web.pages.tree  # noqa: F401
