/*
 * hdraddr.c: the address-list parser and rewriter of hdraddr.h.
 *
 * One pass over the value.  The output is the input copied up to each
 * change, the change, and so on: what the parser only skips (comments,
 * folding white space, display names) is never rebuilt, so it cannot be
 * altered.  Octets of 0x80 and above count as atom text (RFC 6532), so
 * an undecoded UTF-8 name or an encoded word is a word like any other.
 */
#include <string.h>

#include "hdraddr.h"

/* Comments nest; deeper than this is taken for garbage. */
#define HDRADDR_COMMENT_DEPTH	32

struct hdraddr {
	const char	*s;
	size_t		 len;
	size_t		 pos;
	char		*out;
	size_t		 outsize;
	size_t		 outlen;
	size_t		 copied;	/* input octets already in out */
	hdraddr_cb	 cb;
	void		*arg;
	int		 changes;
	int		 err;
};

/* The span of a local-part: its words and dots as written. */
struct hdraddr_local {
	size_t		 start;
	size_t		 end;
	int		 words;
	int		 shape_ok;	/* word *("." word) */
};

static int
hdraddr_peek(const struct hdraddr *h)
{
	return h->pos < h->len ? (unsigned char)h->s[h->pos] : -1;
}

/* RFC 5322 atext, and any 8-bit octet. */
static int
hdraddr_atext(int c)
{
	if (c >= 0x80)
		return 1;
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c > 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* atext of a domain: no 8-bit octet (no SMTPUTF8 here). */
static int
hdraddr_domain_char(int c)
{
	return c < 0x80 && hdraddr_atext(c);
}

/* A comment at pos (an opening parenthesis), nested ones included. */
static void
hdraddr_comment(struct hdraddr *h)
{
	int	 depth = 0, c;

	while ((c = hdraddr_peek(h)) != -1) {
		h->pos++;
		if (c == '\\') {
			if (h->pos >= h->len)
				break;
			h->pos++;
		} else if (c == '(') {
			if (++depth > HDRADDR_COMMENT_DEPTH)
				break;
		} else if (c == ')' && --depth == 0)
			return;
	}
	h->err = 1;
}

/* Folding white space and comments. */
static void
hdraddr_cfws(struct hdraddr *h)
{
	int	 c;

	while (!h->err && (c = hdraddr_peek(h)) != -1) {
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			h->pos++;
		else if (c == '(')
			hdraddr_comment(h);
		else
			return;
	}
}

/* A quoted string at pos (its opening quote). */
static void
hdraddr_quoted(struct hdraddr *h)
{
	int	 c;

	h->pos++;
	while ((c = hdraddr_peek(h)) != -1) {
		h->pos++;
		if (c == '\\') {
			if (h->pos >= h->len)
				break;
			h->pos++;
		} else if (c == '"')
			return;
	}
	h->err = 1;
}

/* An atom or a quoted string at pos; 0 if there is none. */
static int
hdraddr_word(struct hdraddr *h)
{
	if (hdraddr_peek(h) == '"') {
		hdraddr_quoted(h);
		return 1;
	}
	if (!hdraddr_atext(hdraddr_peek(h)))
		return 0;
	while (hdraddr_atext(hdraddr_peek(h)))
		h->pos++;
	return 1;
}

/*
 * Words and dots up to the first other octet: a display name or a
 * local-part, which one the next octet says.  White space between them
 * belongs to the span, white space after the last one does not.
 */
static void
hdraddr_words(struct hdraddr *h, struct hdraddr_local *l)
{
	int	 lastdot = 1;

	memset(l, 0, sizeof(*l));
	l->start = h->pos;
	l->shape_ok = 1;
	for (;;) {
		hdraddr_cfws(h);
		if (h->err)
			return;
		if (hdraddr_peek(h) == '.') {
			if (lastdot)
				l->shape_ok = 0;
			lastdot = 1;
			h->pos++;
		} else {
			if (l->words == 0)
				l->start = h->pos;
			if (!hdraddr_word(h))
				break;
			if (!lastdot)
				l->shape_ok = 0;
			lastdot = 0;
			l->words++;
		}
		l->end = h->pos;
	}
	if (lastdot && l->words > 0)
		l->shape_ok = 0;
}

/* Copy the input up to at, then the text t, into the output. */
static void
hdraddr_emit(struct hdraddr *h, size_t at, const char *t, size_t tlen)
{
	size_t	 n = at - h->copied;

	if (h->outlen + n + tlen > h->outsize) {
		h->err = 1;
		return;
	}
	memcpy(h->out + h->outlen, h->s + h->copied, n);
	h->outlen += n;
	memcpy(h->out + h->outlen, t, tlen);
	h->outlen += tlen;
	h->copied = at;
}

/*
 * Ask the callback about one address; replace [ds, de) or insert at ds,
 * or, for a whole new address, replace from the local-part on.
 */
static void
hdraddr_address(struct hdraddr *h, const struct hdraddr_local *l,
    size_t ds, size_t de, int qualified)
{
	char	 buf[HDRADDR_ADDR_MAX + 1];
	size_t	 n;
	int	 r;

	if (!l->shape_ok || l->words == 0) {
		h->err = 1;
		return;
	}
	buf[0] = '@';
	r = h->cb(h->arg, h->s + l->start, l->end - l->start,
	    qualified ? h->s + ds : NULL, qualified ? de - ds : 0, buf + 1,
	    sizeof(buf) - 1);
	if (r != 1 && r != 2)
		return;
	buf[sizeof(buf) - 1] = '\0';
	if ((n = strlen(buf + 1)) == 0)
		return;
	if (r == 2) {
		hdraddr_emit(h, l->start, buf + 1, n);
		h->copied = qualified ? de : l->end;
	} else if (qualified) {
		hdraddr_emit(h, ds, buf + 1, n);
		h->copied = de;
	} else
		hdraddr_emit(h, ds, buf, n + 1);
	if (!h->err)
		h->changes++;
}

/* A domain after its "@": a dot-atom or a domain literal; its span. */
static void
hdraddr_domain(struct hdraddr *h, size_t *ds, size_t *de)
{
	int	 c;

	hdraddr_cfws(h);
	*ds = h->pos;
	if (hdraddr_peek(h) == '[') {
		h->pos++;
		while ((c = hdraddr_peek(h)) != -1 && c != ']' && c != '[' &&
		    c != '\\')
			h->pos++;
		if (c != ']' || h->pos == *ds + 1) {
			h->err = 1;
			return;
		}
		*de = ++h->pos;
		return;
	}
	for (;;) {
		if (!hdraddr_domain_char(hdraddr_peek(h))) {
			h->err = 1;
			return;
		}
		while (hdraddr_domain_char(hdraddr_peek(h)))
			h->pos++;
		*de = h->pos;
		hdraddr_cfws(h);
		if (h->err || hdraddr_peek(h) != '.')
			return;
		h->pos++;
		hdraddr_cfws(h);
	}
}

/* The local-part is read: its domain if any, then the callback. */
static void
hdraddr_addrspec(struct hdraddr *h, const struct hdraddr_local *l)
{
	size_t	 ds, de;

	if (hdraddr_peek(h) != '@') {
		hdraddr_address(h, l, l->end, l->end, 0);
		return;
	}
	h->pos++;
	hdraddr_domain(h, &ds, &de);
	if (!h->err)
		hdraddr_address(h, l, ds, de, 1);
}

/* A route ("@a,@b:") before an angle address's addr-spec, left alone. */
static void
hdraddr_route(struct hdraddr *h)
{
	size_t	 ds, de;

	while (!h->err && hdraddr_peek(h) == '@') {
		h->pos++;
		hdraddr_domain(h, &ds, &de);
		hdraddr_cfws(h);
		while (!h->err && hdraddr_peek(h) == ',') {
			h->pos++;
			hdraddr_cfws(h);
		}
	}
	if (h->err || hdraddr_peek(h) != ':') {
		h->err = 1;
		return;
	}
	h->pos++;
}

/* An angle address at pos ("<"); "<>" is left as it is. */
static void
hdraddr_angle(struct hdraddr *h)
{
	struct hdraddr_local	 l;

	h->pos++;
	hdraddr_cfws(h);
	if (!h->err && hdraddr_peek(h) == '>') {
		h->pos++;
		return;
	}
	if (!h->err && hdraddr_peek(h) == '@')
		hdraddr_route(h);
	if (h->err)
		return;
	hdraddr_words(h, &l);
	if (h->err)
		return;
	hdraddr_addrspec(h, &l);
	hdraddr_cfws(h);
	if (h->err || hdraddr_peek(h) != '>') {
		h->err = 1;
		return;
	}
	h->pos++;
}

static void	hdraddr_list(struct hdraddr *, int, int);

/* One element of a list: a mailbox, a group (not in a group), or none. */
static void
hdraddr_element(struct hdraddr *h, int ingroup)
{
	struct hdraddr_local	 l;
	int			 c;

	hdraddr_words(h, &l);
	if (h->err)
		return;
	c = hdraddr_peek(h);
	if (c == '<')
		hdraddr_angle(h);
	else if (c == ':' && !ingroup && l.words > 0) {
		h->pos++;
		hdraddr_list(h, ';', 1);
		if (!h->err && hdraddr_peek(h) != ';')
			h->err = 1;
		h->pos++;
	} else if (c == '@' || l.words > 0)
		hdraddr_addrspec(h, &l);
}

/* Elements separated by commas, up to term (or the end at top level). */
static void
hdraddr_list(struct hdraddr *h, int term, int ingroup)
{
	int	 c;

	for (;;) {
		hdraddr_cfws(h);
		if (h->err || (c = hdraddr_peek(h)) == -1 || c == term)
			return;
		if (c == ',') {
			h->pos++;
			continue;
		}
		hdraddr_element(h, ingroup);
		hdraddr_cfws(h);
		if (h->err)
			return;
		c = hdraddr_peek(h);
		if (c == ',')
			h->pos++;
		else if (c != term && c != -1)
			h->err = 1;
	}
}

int
hdraddr_rewrite(const char *value, size_t len, char *out, size_t outsize,
    size_t *outlen, hdraddr_cb cb, void *arg)
{
	struct hdraddr	 h;

	memset(&h, 0, sizeof(h));
	h.s = value;
	h.len = len;
	h.out = out;
	h.outsize = outsize;
	h.cb = cb;
	h.arg = arg;
	hdraddr_list(&h, -1, 0);
	if (!h.err)
		hdraddr_emit(&h, len, "", 0);
	if (h.err)
		return -1;
	*outlen = h.outlen;
	return h.changes;
}
