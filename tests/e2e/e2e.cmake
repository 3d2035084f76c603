# End-to-end tests (tests/e2e): the real services started by a node harness on free
# ports and driven with the official openai client, one ctest test per test file,
# label e2e. `ctest -L e2e` runs them; the fixture e2e_setup runs `npm ci` first
# when tests/e2e/node_modules is missing. They use the binaries in
# ${CMAKE_BINARY_DIR}/bin (SB_BIN_DIR), so build sb-ingress, sb-router, sb-validator
# and sb-mock before running them.

set (SB_E2E_DIR ${CMAKE_CURRENT_LIST_DIR})
set (SB_E2E_SERVICES sb-ingress sb-router sb-validator sb-mock)

set (sb_e2e_ok ON)
foreach (t ${SB_E2E_SERVICES})
    if (NOT TARGET ${t})
        set (sb_e2e_ok OFF) # a narrowed build (SB_PARTS): nothing to test end to end
    endif ()
endforeach ()

find_program (SB_E2E_NODE node)
find_program (SB_E2E_NPM npm)
if (sb_e2e_ok AND SB_E2E_NODE)
    execute_process (COMMAND ${SB_E2E_NODE} --version OUTPUT_VARIABLE sb_e2e_node_version
                     OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    string (REGEX REPLACE "^v([0-9]+).*" "\\1" sb_e2e_node_major "${sb_e2e_node_version}")
    if (NOT sb_e2e_node_major OR sb_e2e_node_major LESS 20)
        message (WARNING "e2e: node ${sb_e2e_node_version} is older than 20: e2e tests not registered")
        set (sb_e2e_ok OFF)
    endif ()
elseif (sb_e2e_ok)
    message (WARNING "e2e: node not found: e2e tests not registered")
    set (sb_e2e_ok OFF)
endif ()

if (sb_e2e_ok)
    add_test (NAME e2e_setup
              COMMAND ${CMAKE_COMMAND} -DNPM=${SB_E2E_NPM} -DDIR=${SB_E2E_DIR}
                      -P ${SB_E2E_DIR}/npm-setup.cmake)
    set_tests_properties (e2e_setup PROPERTIES FIXTURES_SETUP e2e_node_modules TIMEOUT 300
                                               LABELS e2e)

    file (GLOB sb_e2e_files CONFIGURE_DEPENDS RELATIVE ${SB_E2E_DIR}/test ${SB_E2E_DIR}/test/*.test.mjs)
    list (SORT sb_e2e_files)
    foreach (file ${sb_e2e_files})
        string (REGEX REPLACE "\\.test\\.mjs$" "" name ${file})
        add_test (NAME e2e_${name}
                  COMMAND ${SB_E2E_NODE} --test --test-reporter=spec test/${file}
                  WORKING_DIRECTORY ${SB_E2E_DIR})
        # Each file finishes in well under 60 s; the margin is for a loaded machine.
        set_tests_properties (e2e_${name} PROPERTIES
            TIMEOUT 120
            LABELS e2e
            FIXTURES_REQUIRED e2e_node_modules
            ENVIRONMENT "SB_BIN_DIR=${CMAKE_BINARY_DIR}/bin")
    endforeach ()
endif ()
