/*
 * main.c — the test table (expanded from VL_TESTS in test.h), its exported
 * accessors for the WASM driver, and the native runner.
 */
#include <stdio.h>
#include <string.h>
#include "test.h"

typedef struct { const char *name; int (*fn)(void); } vl_test_case;

#define VL_ROW(name) { #name, test_##name },
static const vl_test_case table[] = { VL_TESTS(VL_ROW) };
#undef VL_ROW

int vl_test_count(void) { return (int)(sizeof table / sizeof table[0]); }

const char *vl_test_name(int i)
{
    return i >= 0 && i < vl_test_count() ? table[i].name : "";
}

int vl_test_run(int i)
{
    if (i < 0 || i >= vl_test_count()) return -1;
    vl__test_alloc_fail_after(-1);
    vl__test_filter_plan(0);
    int r = table[i].fn();
    vl__test_alloc_fail_after(-1);
    vl__test_filter_plan(0);
    return r;
}

#ifndef VL_TEST_WASM
int main(int argc, char **argv)
{
    int pass = 0, fail = 0;
    printf("veclite unit tests (isa %s)\n", vl_isa_name());
    for (int i = 0; i < vl_test_count(); i++) {
        if (argc > 1) {                     /* names given: run only those */
            int want = 0;
            for (int a = 1; a < argc; a++) want |= strcmp(argv[a], table[i].name) == 0;
            if (!want) continue;
        }
        int r = vl_test_run(i);
        printf("%s %s\n", r == 0 ? "ok  " : "FAIL", table[i].name);
        fflush(stdout);
        if (r == 0) pass++; else fail++;
    }
    printf("%d passed, %d failed\n", pass, fail);
    return fail ? 1 : 0;
}
#endif
