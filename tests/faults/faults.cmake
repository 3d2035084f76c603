# Fault tests: the real services under misbehaving providers, a stopped Redis and
# garbage on their sockets (node's test runner; no npm packages needed).
if (TARGET sbproto)
    add_executable (sb_poke ${CMAKE_CURRENT_LIST_DIR}/sb_poke.c)
    target_link_libraries (sb_poke PRIVATE sbproto PkgConfig::ZMQ)
    set_target_properties (sb_poke PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
endif ()
find_program (SB_NODE node)
if (SB_NODE AND TARGET sb-router)
    foreach (t routing records config validator)
        add_test (NAME faults_${t} COMMAND ${SB_NODE} --test ${CMAKE_CURRENT_LIST_DIR}/${t}.test.mjs
                  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
        set_tests_properties (faults_${t} PROPERTIES TIMEOUT 240 LABELS e2e
                              ENVIRONMENT "SB_BIN_DIR=${CMAKE_BINARY_DIR}/bin")
    endforeach ()
endif ()
