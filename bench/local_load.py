#!/usr/bin/env python3
"""bench/local_load.py PORT SECONDS CONNECTIONS: RCPT decisions per second
for mail to this host, through the relay tools/bench_local.sh set up (a
100k-entry virtusertable over virt0..virt999.example with catch-alls for
virt0..virt499, a 10k-entry aliases map list0..list9999, local users
u0..u999 of bench.invalid).  The load is bench/policy_load.py's (MAIL,
100 RCPT and RSET in one write, over and over) with other recipients: of
each 100, 40 are virtusertable hits, 20 catch-all hits, 20 alias lists
(1-5 members, some nested) and 20 unknown local users, so every RCPT is
one resolution in smtpd-policyd.  Prints policy_load.py's line:
"decisions N seconds S per_second R refused X"."""
import policy_load

VIRT_ENTRIES = 100000
VIRT_DOMAINS = 1000
CATCHALL_DOMAINS = 500
ALIASES = 10000


class LocalConn(policy_load.Conn):
    def rcpt(self, i, batch=0):
        k = self.n * policy_load.RCPTS + i
        if i < 40:
            e = (k * 7919) % VIRT_ENTRIES
            return "user%d@virt%d.example" % (e, e % VIRT_DOMAINS)
        if i < 60:
            return "who%d+tag@virt%d.example" % (k, k % CATCHALL_DOMAINS)
        if i < 80:
            return "list%d@bench.invalid" % ((k * 31) % ALIASES)
        return "nosuch%d@bench.invalid" % k


if __name__ == "__main__":
    policy_load.main(LocalConn)
