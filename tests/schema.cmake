# JSON Schema validator tests: unit tests, the official JSON-Schema-Test-Suite
# (draft2020-12 and draft7, required tests), and a fuzz target. The suite lives
# outside the repo, in the shared/ folder beside it; SB_CONFORMANCE_DIR overrides
# the path at run time.
if (TARGET sbengine)
    find_package (Threads REQUIRED)
    sb_add_test (test_sb_schema SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_sb_schema.c
                 LIBS sbengine Threads::Threads)
    sb_add_test (test_sb_schema_cache SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_sb_schema_cache.c
                 LIBS sbengine)
    sb_add_test (test_sb_schema_parts SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_sb_schema_parts.c
                 LIBS sbengine)

    add_executable (schema_suite ${CMAKE_CURRENT_LIST_DIR}/conformance/schema_suite.c)
    target_link_libraries (schema_suite PRIVATE sbengine)
    target_compile_definitions (schema_suite PRIVATE
        SB_SCHEMA_CONFORMANCE_DIR="${CMAKE_SOURCE_DIR}/../shared/conformance/json-schema"
        SB_SCHEMA_SKIPS="${CMAKE_SOURCE_DIR}/tests/data/schema-skips.txt")
    set_target_properties (schema_suite PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
    add_test (NAME schema_conformance COMMAND schema_suite WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
    set_tests_properties (schema_conformance PROPERTIES TIMEOUT 120 LABELS conformance)

    sb_add_fuzz (fuzz_schema
                 SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz/fuzz_schema.c ${SB_SCHEMA_SOURCES}
                 LIBS PkgConfig::JANSSON PkgConfig::PCRE2 m
                 CORPUS tests/fuzz/corpus/fuzz_schema)
    target_include_directories (fuzz_schema PRIVATE ${CMAKE_SOURCE_DIR}/lib/engine)
endif ()
