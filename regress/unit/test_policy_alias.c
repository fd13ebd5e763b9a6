/*
 * test_policy_alias.c: the items of an aliases list (policy_alias.c):
 * every item kind, quoting and escapes, the stored form and that
 * reading it back gives the same items, the names of entries, and the
 * refused lists with their reasons.
 */
#include <stdio.h>
#include <string.h>

#include "unit.h"
#include "policy.h"

#define LIST_MAX	(POLICY_ALIAS_VALUE_MAX + 1)

static char	 normal[LIST_MAX];

/* The items of list as "K:value" words joined by '|' (K = A P F I), or
 * "ERR:reason". */
static const char *
items(const char *list)
{
	static char			 out[4096];
	struct policy_alias_item	 it;
	const char			*p = list, *why = NULL;
	int				 r;

	out[0] = '\0';
	while ((r = policy_alias_next(&p, &it, &why)) == 1) {
		if (out[0] != '\0')
			(void)strlcat(out, "|", sizeof(out));
		(void)strlcat(out, it.kind == POLICY_ALIAS_ADDRESS ? "A:" :
		    it.kind == POLICY_ALIAS_PROGRAM ? "P:" :
		    it.kind == POLICY_ALIAS_FILE ? "F:" : "I:", sizeof(out));
		(void)strlcat(out, it.value, sizeof(out));
	}
	if (r == -1)
		(void)snprintf(out, sizeof(out), "ERR:%s", why);
	return out;
}

/* 1 if list reads as want; prints what it got otherwise. */
static int
reads(const char *list, const char *want)
{
	const char	*got = items(list);

	if (strcmp(got, want) == 0)
		return 1;
	(void)printf("  [%s]: got [%s], want [%s]\n", list, got, want);
	return 0;
}

/* 1 if list is refused with a reason containing want. */
static int
refused(const char *list, const char *want)
{
	const char	*got = items(list);

	if (strncmp(got, "ERR:", 4) == 0 && strstr(got, want) != NULL)
		return 1;
	(void)printf("  [%s]: got [%s], want a refusal with \"%s\"\n", list,
	    got, want);
	return 0;
}

/* 1 if list normalises to want and want reads back as list does. */
static int
normalises(const char *list, const char *want)
{
	char		 first[4096];
	const char	*why = NULL;
	size_t		 n;

	if (policy_alias_list_normal(list, normal, sizeof(normal), &n,
	    &why) == -1) {
		(void)printf("  [%s]: refused: %s\n", list, why);
		return 0;
	}
	(void)strlcpy(first, items(list), sizeof(first));
	if (strcmp(normal, want) != 0 || strcmp(items(normal), first) != 0) {
		(void)printf("  [%s]: stored [%s] reads [%s], want [%s] "
		    "reading [%s]\n", list, normal, items(normal), want, first);
		return 0;
	}
	return 1;
}

static void
test_kinds(void)
{
	UNIT_CHECK(reads("joe", "A:joe") &&
	    reads("joe@example.com", "A:joe@example.com") &&
	    reads("Joe.Smith+x@Example.COM", "A:Joe.Smith+x@Example.COM") &&
	    reads("u@[192.0.2.1]", "A:u@[192.0.2.1]"),
	    "addresses are kept as written");
	UNIT_CHECK(reads("\\root", "A:\\root"),
	    "a backslashed local user is an address item");
	UNIT_CHECK(reads("|/usr/bin/vacation joe", "P:/usr/bin/vacation joe") &&
	    reads("| /bin/cat", "P:/bin/cat"),
	    "a program's value is the command without '|'");
	UNIT_CHECK(reads("/var/log/all", "F:/var/log/all"),
	    "a file's value is its absolute path");
	UNIT_CHECK(reads(":include:/etc/mail/l", "I:/etc/mail/l") &&
	    reads(":INCLUDE:/etc/mail/l", "I:/etc/mail/l") &&
	    reads(":Include: /etc/mail/l", "I:/etc/mail/l"),
	    ":include: in any case, blanks after it skipped");
	UNIT_CHECK(reads(" a ,b,\tc , d@x.example ",
	    "A:a|A:b|A:c|A:d@x.example"),
	    "blanks around items are ignored");
	UNIT_CHECK(reads("", "") && reads("   ", ""),
	    "an empty list has no items");
}

static void
test_quoting(void)
{
	UNIT_CHECK(reads("\"|/usr/bin/prog -a b\"", "P:/usr/bin/prog -a b") &&
	    reads("\"/var/log/x y\"", "F:/var/log/x y") &&
	    reads("\":include:/etc/a b\"", "I:/etc/a b"),
	    "quoted programs, files and includes");
	UNIT_CHECK(reads("\"|/bin/echo \\\"a, b\\\"\"",
	    "P:/bin/echo \"a, b\"") &&
	    reads("\"/x\\\\y\"", "F:/x\\y"),
	    "a backslash escapes a quote or a backslash inside quotes");
	UNIT_CHECK(reads("\"a b\"@example.com", "A:\"a b\"@example.com") &&
	    reads("\"a,b\"@example.com, c", "A:\"a,b\"@example.com|A:c"),
	    "a quoted local part with a domain is an address");
	UNIT_CHECK(reads("\"joe smith\"", "A:\"joe smith\"") &&
	    reads("\"joe\"", "A:\"joe\""),
	    "a quoted string that is no target is a quoted local user");
	UNIT_CHECK(reads("\"|a\"@example.com", "A:\"|a\"@example.com"),
	    "a quoted '|' local part with a domain stays an address");
}

static void
test_stored_form(void)
{
	UNIT_CHECK(normalises("a,b ,  c", "a, b, c"),
	    "items are joined by \", \"");
	UNIT_CHECK(normalises("|/bin/prog", "|/bin/prog") &&
	    normalises("|/bin/prog -x", "\"|/bin/prog -x\"") &&
	    normalises("\"|/bin/prog\"", "|/bin/prog"),
	    "a program is quoted only when it must be");
	UNIT_CHECK(normalises("\"/a,b\"", "\"/a,b\"") &&
	    normalises(":INCLUDE: /etc/l", ":include:/etc/l") &&
	    normalises("\":include:/etc/a b\"", "\":include:/etc/a b\""),
	    "files and includes in their stored form");
	UNIT_CHECK(normalises("\"|/bin/echo \\\"q\\\" \\\\\"",
	    "\"|/bin/echo \\\"q\\\" \\\\\""),
	    "quotes and backslashes are escaped inside quotes");
	UNIT_CHECK(normalises("\"a b\"@x.example, \\root",
	    "\"a b\"@x.example, \\root"),
	    "addresses are stored as written");
	UNIT_CHECK(normalises("|/p\\q", "|/p\\q"),
	    "an unquoted backslash stays as it is");
}

static void
test_refused_lists(void)
{
	const char	*why = NULL;
	size_t		 n;
	char		 big[2048];

	UNIT_CHECK(refused("a,,b", "empty item") &&
	    refused(",a", "empty item") && refused("a,", "empty item") &&
	    refused("a, ,b", "empty item"), "blank items are refused");
	UNIT_CHECK(refused("\"|prog", "closing quote"),
	    "an unterminated quote is refused");
	UNIT_CHECK(refused("a\"b\"", "double quote inside"),
	    "a quote inside an unquoted item is refused");
	UNIT_CHECK(refused("\"a b\" c", "comma missing"),
	    "text after a quoted item is refused");
	UNIT_CHECK(refused("john smith", "blank inside an address"),
	    "an unquoted address with a blank is refused");
	UNIT_CHECK(refused("a@@b", "not an address") &&
	    refused("a@-x.example", "not an address") &&
	    refused("<a@b.example>", "not an address") &&
	    refused("a..b", "not an address"),
	    "what the grammar of mailaddr.c refuses is refused");
	UNIT_CHECK(refused("|", "command") && refused("| ", "command"),
	    "a program needs a command");
	UNIT_CHECK(refused(":include:etc/l", "absolute") &&
	    refused(":include:", "absolute") &&
	    refused("/var/log/", "not a directory") &&
	    refused("/", "not a directory"),
	    "include and file paths are absolute file names");
	UNIT_CHECK(refused("/a\tb", "tab") && refused("a\001b", "control") &&
	    refused("\"|a\tb\"", "control") && refused("a\xc3\xa9", "8-bit"),
	    "tabs inside items, controls and 8-bit octets are refused");
	memset(big, 'a', sizeof(big) - 1);
	big[0] = '/';
	big[sizeof(big) - 1] = '\0';
	UNIT_CHECK(refused(big, "longer than 1023"),
	    "an item over 1023 octets is refused");
	UNIT_CHECK(policy_alias_list_normal("", normal, sizeof(normal), &n,
	    &why) == -1 && strstr(why, "without a value") != NULL,
	    "an empty list is refused when stored");
	UNIT_CHECK(policy_alias_list_normal("aaaa, bbbb", normal, 8, &n,
	    &why) == -1 && strstr(why, "longer") != NULL,
	    "a stored list that does not fit is refused");
}

static void
test_names(void)
{
	char		 key[POLICY_KEY_MAX + 1];
	const char	*why = NULL;

#define NAME(s)	policy_alias_name((s), strlen(s), key, sizeof(key), &why)
	UNIT_CHECK(NAME("Postmaster") == 0 && strcmp(key, "postmaster") == 0,
	    "a name is lowercased");
	UNIT_CHECK(NAME("\"John Smith\"") == 0 &&
	    strcmp(key, "john smith") == 0 &&
	    NAME("\"a\\\"b\"") == 0 && strcmp(key, "a\"b") == 0,
	    "a quoted name is stored unquoted");
	UNIT_CHECK(NAME("owner-list") == 0 && NAME("mailer-daemon") == 0,
	    "dashes are fine");
	UNIT_CHECK(NAME("joe@example.com") == -1 && strstr(why, "@") != NULL,
	    "a name with a domain is refused");
	UNIT_CHECK(NAME("john smith") == -1 && NAME("") == -1 &&
	    NAME("\"\"") == -1 &&
	    NAME("\"open") == -1 && NAME("a..b") == -1,
	    "names that are no local part are refused");
#undef NAME
}

int
main(void)
{
	test_kinds();
	test_quoting();
	test_stored_form();
	test_refused_lists();
	test_names();
	return unit_done();
}
