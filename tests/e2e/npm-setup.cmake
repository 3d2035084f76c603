# Installs the e2e suite's node dependencies (the openai client) when they are missing,
# exactly as package-lock.json pins them. Run by ctest's e2e_setup fixture:
#   cmake -DNPM=/usr/bin/npm -DDIR=<repo>/tests/e2e -P npm-setup.cmake
if (EXISTS "${DIR}/node_modules/openai/package.json")
    message (STATUS "e2e: node_modules present, nothing to install")
    return ()
endif ()
if (NOT NPM)
    message (FATAL_ERROR "e2e: node_modules is missing and npm was not found")
endif ()
execute_process (COMMAND "${NPM}" ci --no-audit --no-fund --loglevel=error
                 WORKING_DIRECTORY "${DIR}" RESULT_VARIABLE rc)
if (NOT rc EQUAL 0)
    message (FATAL_ERROR "e2e: npm ci failed (${rc})")
endif ()
