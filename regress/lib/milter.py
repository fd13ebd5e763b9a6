"""
milter.py: a relay whose listener runs filters, for the tests of real
milters (OpenDKIM, rspamd).

    with FilterRelay([("dkim", signer.spec)], sink=sink) as relay:

Each (name, spec) becomes `filter NAME "SPEC"` before the listener and
`filter NAME` on it, in that order (sendmail's InputMailFilters); with
local=True the filters are the sendmail command's instead (`sendmail
filter NAME`, the listener has none).  Any other argument is the
Relay's (regress/lib/daemon.py).
"""
from .daemon import Relay


class FilterRelay(Relay):
    def __init__(self, filters, local=False, **kw):
        self.filters = list(filters)
        self.local = local
        Relay.__init__(self, **kw)

    def conf_text(self):
        text = Relay.conf_text(self)
        listen = "listen on 127.0.0.1 port %d\n" % self.port
        defs = "".join('filter %s "%s"\n' % f for f in self.filters)
        if self.local:
            subs = "".join("sendmail filter %s\n" % name
                           for name, _ in self.filters)
            return text.replace(listen, defs + listen + subs)
        names = "".join(" filter %s" % name for name, _ in self.filters)
        return text.replace(listen, defs + listen[:-1] + names + "\n")
