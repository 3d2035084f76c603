# AutoFix tests: the lenient parser's unit tests, the pipeline's API tests, the
# data-driven corpus (tests/data/autofix, one file per case), the sb-autofix CLI,
# and a fuzz target over the parser and the whole pipeline.
if (TARGET sbengine)
    find_package (Threads REQUIRED)
    sb_add_test (test_sb_jrepair SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_sb_jrepair.c
                 LIBS sbengine)
    sb_add_test (test_sb_autofix SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_sb_autofix.c
                 LIBS sbengine Threads::Threads)
    sb_add_test (test_sb_autofix_corpus
                 SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_sb_autofix_corpus.c LIBS sbengine)

    # The AutoFix sources are compiled into the fuzz target itself: only a fuzz
    # target's own sources get libFuzzer's coverage instrumentation.
    sb_add_fuzz (fuzz_jrepair
                 SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz/fuzz_jrepair.c ${SB_AUTOFIX_SOURCES}
                 LIBS sbengine
                 CORPUS tests/fuzz/corpus/fuzz_jrepair)
endif ()

if (TARGET sb-autofix)
    # The CLI end to end: the issue's example, validate_only, exit codes, bad usage.
    add_test (NAME sb_autofix_cli COMMAND sh -c [=[
        set -e
        schema=$(mktemp)
        trap 'rm -f "$schema"' EXIT
        printf '%s' '{"type":"object","properties":{"city":{"type":"string"},"max_items":{"type":"integer"}},"required":["city","max_items"],"additionalProperties":false}' >"$schema"
        out=$(printf "%s" "{'city': 'New York', max_items: '10'}" | "$1" "$schema")
        case "$out" in
            '{"valid":true,"arguments":"{\"city\":\"New York\",\"max_items\":10}","fixes":['*'"kind":"string_to_number","path":"/max_items"'*'],"errors":[]}') ;;
            *) echo "auto_fix got: $out"; exit 1 ;;
        esac
        if out=$(printf "%s" "{'city': 'New York', max_items: '10'}" | "$1" --mode validate_only "$schema"); then
            echo "validate_only accepted broken input: $out"; exit 1
        fi
        case "$out" in
            '{"valid":false,"arguments":null,"fixes":[],"errors":[{"path":"","keyword":"syntax",'*) ;;
            *) echo "validate_only got: $out"; exit 1 ;;
        esac
        out=$(printf '%s' '{"city": "Oslo", "max_items": 3}' | "$1" --mode=validate_only "$schema")
        [ "$out" = '{"valid":true,"arguments":"{\"city\": \"Oslo\", \"max_items\": 3}","fixes":[],"errors":[]}' ] || { echo "valid got: $out"; exit 1; }
        if printf '{"city": "Oslo"}' | "$1" "$schema" >/dev/null; then echo "missing field accepted"; exit 1; fi
        if "$1" --mode fix_everything "$schema" </dev/null 2>/dev/null; then echo "bad mode accepted"; exit 1; fi
        set +e; "$1" /nonexistent.json </dev/null 2>/dev/null; rc=$?; set -e
        [ "$rc" = 2 ] || { echo "missing schema file: exit $rc"; exit 1; }
        echo "sb-autofix CLI ok"
    ]=] sh $<TARGET_FILE:sb-autofix>)
    set_tests_properties (sb_autofix_cli PROPERTIES TIMEOUT 30 LABELS unit)
endif ()
