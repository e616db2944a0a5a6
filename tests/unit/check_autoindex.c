/*
 * check_autoindex - the listing body of worker/autoindex.c: order, the
 * parent link, and how odd names are escaped in links, HTML and JSON.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "autoindex.h"

static char *
render(struct autoindex_ent *e, size_t n, const char *path, bool json)
{
	size_t len;
	char *body = autoindex_render(e, n, path, strlen(path), json, &len);

	ck_assert_ptr_nonnull(body);
	body = realloc(body, len + 1);
	body[len] = '\0';
	return body;
}

START_TEST(test_order_and_parent)
{
	struct autoindex_ent e[] = {
		{ "b.txt", false, 3, 0 }, { "zdir", true, 4096, 0 },
		{ "B.txt", false, 1, 0 }, { "\xc3\xa9", false, 2, 0 },
		{ "adir", true, 4096, 0 },
	};
	char *h = render(e, 5, "/x/", false);
	const char *order[] = { "\"adir/\"", "\"zdir/\"", "\"B.txt\"",
	    "\"b.txt\"", "\"%C3%A9\"" };
	const char *prev = h;

	for (size_t i = 0; i < 5; i++) {
		const char *p = strstr(h, order[i]);

		ck_assert_msg(p != NULL && p > prev, "%s out of order:\n%s",
		    order[i], h);
		prev = p;
	}
	ck_assert_ptr_nonnull(strstr(h, "<a href=\"../\">"));
	ck_assert_ptr_nonnull(strstr(h, "<title>Index of /x/</title>"));
	ck_assert_ptr_nonnull(strstr(h, ">\xc3\xa9</a>"));
	free(h);
	h = render(e, 5, "/", false);
	ck_assert_ptr_null(strstr(h, "../"));
	free(h);
	h = render(NULL, 0, "/", true);
	ck_assert_str_eq(h, "[\n]\n");
	free(h);
}
END_TEST

START_TEST(test_odd_names)
{
	struct autoindex_ent e[] = {
		{ "a<b&\"c d", false, 1, 0 },
		{ "bad\xff\xfe", false, 2, 86400 },
		{ "javascript:alert(1)", false, 3, 0 },
		{ "q'\n\\", false, 4, 0 },
		{ "\xed\xa0\x80\xc0\xaf", false, 5, 0 },	/* surrogate, overlong */
	};
	char *h = render(e, 5, "/<x>/", false);
	char *j;

	ck_assert_ptr_nonnull(strstr(h, "<a href=\"a%3Cb%26%22c%20d\">"
	    "a&lt;b&amp;&quot;c d</a>"));
	ck_assert_ptr_nonnull(strstr(h, "<a href=\"bad%FF%FE\">bad"
	    "\xef\xbf\xbd\xef\xbf\xbd</a>"));
	ck_assert_ptr_nonnull(strstr(h, "href=\"javascript%3Aalert%281%29\""));
	ck_assert_ptr_nonnull(strstr(h, "href=\"q%27%0A%5C\">q&#39;"
	    "\xef\xbf\xbd\\</a>"));
	ck_assert_ptr_nonnull(strstr(h, "Index of /&lt;x&gt;/"));
	ck_assert_ptr_nonnull(strstr(h, "1970-01-02T00:00:00Z"));
	ck_assert_ptr_null(strstr(h, "\xff"));
	free(h);
	j = render(e, 5, "/", true);
	ck_assert_ptr_nonnull(strstr(j, "{\"name\":\"a\\u003cb\\u0026\\\"c d\","
	    "\"href\":\"a%3Cb%26%22c%20d\",\"type\":\"file\",\"size\":1,"));
	ck_assert_ptr_nonnull(strstr(j, "\"name\":\"bad\\ufffd\\ufffd\""));
	ck_assert_ptr_nonnull(strstr(j, "\"name\":\"q'\\u000a\\\\\""));
	ck_assert_ptr_nonnull(strstr(j, "\"name\":\"\\ufffd\\ufffd\\ufffd"
	    "\\ufffd\\ufffd\""));
	ck_assert_ptr_null(strstr(j, "\xff"));
	free(j);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("autoindex");
	TCase *tc = tcase_create("autoindex");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_order_and_parent);
	tcase_add_test(tc, test_odd_names);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
