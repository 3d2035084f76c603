# TOON encoder tests: unit tests, the official conformance fixtures (encode), the
# sb-toon CLI, and a fuzz target. Fixtures live outside the repo, in the shared/
# folder beside it; SB_CONFORMANCE_DIR overrides the path at run time.
if (TARGET sbengine)
    find_package (Threads REQUIRED)
    sb_add_test (test_sb_toon SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_sb_toon.c
                 LIBS sbengine Threads::Threads)

    add_executable (toon_suite ${CMAKE_CURRENT_LIST_DIR}/conformance/toon_suite.c)
    target_link_libraries (toon_suite PRIVATE sbengine)
    target_compile_definitions (toon_suite PRIVATE
        SB_TOON_CONFORMANCE_DIR="${CMAKE_SOURCE_DIR}/../shared/conformance/toon")
    set_target_properties (toon_suite PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
    add_test (NAME toon_conformance COMMAND toon_suite WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
    set_tests_properties (toon_conformance PROPERTIES TIMEOUT 60 LABELS conformance)

    # sb_toon.c is compiled into the target itself rather than taken from
    # sbengine: only sources of the fuzz target get libFuzzer's coverage
    # instrumentation, and without it the fuzzer cannot see the encoder's branches.
    sb_add_fuzz (fuzz_toon
                 SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz/fuzz_toon.c
                         ${CMAKE_SOURCE_DIR}/lib/engine/sb_toon.c
                 LIBS PkgConfig::JANSSON m
                 CORPUS tests/fuzz/corpus/fuzz_toon)
    target_include_directories (fuzz_toon PRIVATE ${CMAKE_SOURCE_DIR}/lib/engine)
endif ()

if (TARGET sb-toon)
    # The CLI end to end: options reach the encoder, bad JSON and bad options fail.
    add_test (NAME sb_toon_cli COMMAND sh -c [=[
        set -e
        out=$(printf '{"t":[{"a":1,"b":"x y"},{"a":2,"b":"z"}]}' | "$1" --delimiter '|' --indent 4)
        want=$(printf 't[2|]{a|b}:\n    1|x y\n    2|z')
        [ "$out" = "$want" ] || { echo "got: $out"; exit 1; }
        out=$(printf '[1,2]' | "$1" --delimiter '\t')
        [ "$out" = "$(printf '[2\t]: 1\t2')" ] || { echo "got: $out"; exit 1; }
        if printf '{' | "$1" 2>/dev/null; then echo "accepted bad JSON"; exit 1; fi
        if "$1" --delimiter ';' </dev/null 2>/dev/null; then echo "accepted ';'"; exit 1; fi
        echo "sb-toon CLI ok"
    ]=] sh $<TARGET_FILE:sb-toon>)
    set_tests_properties (sb_toon_cli PROPERTIES TIMEOUT 30 LABELS unit)
endif ()
