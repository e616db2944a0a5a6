/*
 * check_static - the pure parts of worker/static.c: how an Accept-Encoding
 * value ranks br and gzip.
 */
#include <check.h>
#include <string.h>

#include "static.h"

static void
ae(const char *v, int want_br, int want_gz)
{
	int br = -2, gz = -2;

	static_accept_encoding(v, strlen(v), &br, &gz);
	ck_assert_msg(br == want_br && gz == want_gz,
	    "'%s': br %d gz %d, want %d %d", v, br, gz, want_br, want_gz);
}

START_TEST(test_accept_encoding)
{
	ae("", 0, 0);
	ae("gzip", 0, 1000);
	ae("br", 1000, 0);
	ae("gzip, br", 1000, 1000);
	ae("GZIP;Q=0.5,BR;q=0.25", 250, 500);
	ae("br;q=0", 0, 0);
	ae("br;q=0, gzip", 0, 1000);
	ae("br;q=0.000, gzip;q=0.001", 0, 1);
	ae("x-gzip", 0, 1000);
	ae("*", 1000, 1000);
	ae("*;q=0.3, gzip", 300, 1000);
	ae("br;q=0, *", 0, 1000);
	ae("identity;q=0, deflate", 0, 0);
	ae("br ; q=0.8 , gzip ;q=0.9", 800, 900);
	ae("br;level=5;q=0.7", 700, 0);
	/* a malformed q voids its element, not the others */
	ae("br;q=2, gzip", 0, 1000);
	ae("br;q=0.1234, gzip;q=1.5", 0, 0);
	ae("br;q=, gzip;q=abc", 0, 0);
	ae("br;q=1.000", 1000, 0);
	ae("br;q=1.001", 0, 0);
	/* names are whole tokens */
	ae("brotli, gzipped, xgzip", 0, 0);
	ae(",,  ,br", 1000, 0);
	/* the value is cut at n, not at a NUL */
	{
		int br, gz;

		static_accept_encoding("gzip, br", 4, &br, &gz);
		ck_assert_int_eq(br, 0);
		ck_assert_int_eq(gz, 1000);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("static");
	TCase *tc = tcase_create("static");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_accept_encoding);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
