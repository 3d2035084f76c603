# Admin service tests: the Clone client (unit, against an in-process fake admin),
# and the admin end-to-end script (REST + auth + Clone stream) with a tiny
# subscriber program that reports when a new config arrives.
if (TARGET sbcommon)
    sb_add_test (test_sb_clone SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_sb_clone.c
                 LIBS sbcommon TIMEOUT 60)
    add_executable (sb-clone-watch ${CMAKE_CURRENT_LIST_DIR}/admin/sb_clone_watch.c)
    target_link_libraries (sb-clone-watch PRIVATE sbcommon)
    set_target_properties (sb-clone-watch PROPERTIES RUNTIME_OUTPUT_DIRECTORY
                                                     ${CMAKE_BINARY_DIR}/tests)
endif ()
if (TARGET sb-admin AND TARGET sb-clone-watch)
    add_test (NAME admin_api COMMAND ${CMAKE_CURRENT_LIST_DIR}/admin/test_admin_api.sh
                                     $<TARGET_FILE:sb-admin> $<TARGET_FILE:sb-clone-watch>
              WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
    set_tests_properties (admin_api PROPERTIES TIMEOUT 120 LABELS e2e SKIP_RETURN_CODE 77)
endif ()
# The REST semantics (sb_admin_api over an in-memory store) under arbitrary requests.
if (TARGET sbcommon AND TARGET sb-admin)
    set (_sb_admin_dir ${CMAKE_SOURCE_DIR}/services/admin)
    sb_add_fuzz (fuzz_admin_api
                 SOURCES ${CMAKE_CURRENT_LIST_DIR}/admin/fuzz_admin_api.c
                         ${_sb_admin_dir}/sb_admin_api.c ${_sb_admin_dir}/sb_admin_store.c
                 LIBS sbcommon PkgConfig::SQLITE PkgConfig::JANSSON PkgConfig::OPENSSL
                 CORPUS tests/admin/corpus/fuzz_admin_api)
    target_include_directories (fuzz_admin_api PRIVATE ${_sb_admin_dir})
    if (SB_ADMIN_SCHEMA AND TARGET sbengine)
        target_link_libraries (fuzz_admin_api PRIVATE sbengine)
        target_compile_definitions (fuzz_admin_api PRIVATE SB_ADMIN_HAVE_SCHEMA)
    endif ()
endif ()
# The metrics aggregation and its Prometheus / live renderings, with fake instances.
if (TARGET sbcommon AND TARGET sb-admin)
    sb_add_test (test_admin_metrics
                 SOURCES ${CMAKE_CURRENT_LIST_DIR}/admin/test_admin_metrics.c
                         ${CMAKE_SOURCE_DIR}/services/admin/sb_admin_metrics.c
                 LIBS sbcommon PkgConfig::JANSSON m TIMEOUT 30)
    target_include_directories (test_admin_metrics PRIVATE ${CMAKE_SOURCE_DIR}/services/admin
                                                           ${CMAKE_CURRENT_LIST_DIR}/unit)
endif ()
# The live dashboard in a real browser (tests/dashboard): Debian chromium driven by
# playwright-core against the whole gateway (redis-server, mock, logger, router,
# validator, ingress, admin) on free ports; also /metrics and the logs API from
# outside, and Redis going away. The fixture installs chromium (apt) and
# playwright-core (npm ci) when missing. Screenshots: <build>/dashboard/*.png.
find_program (SB_DASH_NODE node)
find_program (SB_DASH_REDIS redis-server)
set (sb_dash_ok ON)
foreach (t sb-admin sb-ingress sb-router sb-validator sb-logger sb-mock)
    if (NOT TARGET ${t})
        set (sb_dash_ok OFF)
    endif ()
endforeach ()
if (sb_dash_ok AND SB_DASH_NODE AND SB_DASH_REDIS)
    add_test (NAME dashboard_setup COMMAND ${CMAKE_CURRENT_LIST_DIR}/dashboard/setup.sh)
    set_tests_properties (dashboard_setup PROPERTIES FIXTURES_SETUP dashboard_browser TIMEOUT 900
                                                     LABELS e2e)
    add_test (NAME dashboard_browser
              COMMAND ${SB_DASH_NODE} --test --test-reporter=spec dashboard.test.mjs
              WORKING_DIRECTORY ${CMAKE_CURRENT_LIST_DIR}/dashboard)
    set_tests_properties (dashboard_browser PROPERTIES
        TIMEOUT 180
        LABELS e2e
        FIXTURES_REQUIRED dashboard_browser
        ENVIRONMENT "SB_BIN_DIR=${CMAKE_BINARY_DIR}/bin;SB_SCREENSHOT_DIR=${CMAKE_BINARY_DIR}/dashboard")
elseif (sb_dash_ok)
    message (WARNING "dashboard: node or redis-server not found: browser test not registered")
endif ()
# What admin parses for observability (metrics snapshots, stream captures, logs
# query arguments) under arbitrary input.
if (TARGET sbcommon AND TARGET sb-admin)
    set (_sb_admin_dir ${CMAKE_SOURCE_DIR}/services/admin)
    sb_add_fuzz (fuzz_admin_observe
                 SOURCES ${CMAKE_CURRENT_LIST_DIR}/admin/fuzz_admin_observe.c
                         ${_sb_admin_dir}/sb_admin_metrics.c ${_sb_admin_dir}/sb_admin_logs.c
                 LIBS sbcommon PkgConfig::JANSSON PkgConfig::HIREDIS m
                 CORPUS tests/admin/corpus/fuzz_admin_observe)
    target_include_directories (fuzz_admin_observe PRIVATE ${_sb_admin_dir})
endif ()
