# The WebDAV multistatus parser's libFuzzer target. Included from fuzz/CMakeLists.txt.
# The parser's sources are compiled into the target itself (not taken from
# odoosync_common), so they get libFuzzer's coverage instrumentation.
# Run: build/fuzz/fuzz_multistatus -max_total_time=60 fuzz/corpus/multistatus
add_executable(fuzz_multistatus
  ${CMAKE_SOURCE_DIR}/fuzz/fuzz_multistatus.c
  ${CMAKE_SOURCE_DIR}/common/dav_xml.c
  ${CMAKE_SOURCE_DIR}/common/dav_path.c
  ${CMAKE_SOURCE_DIR}/common/buf.c
  ${CMAKE_SOURCE_DIR}/common/err.c)
target_include_directories(fuzz_multistatus PRIVATE ${CMAKE_SOURCE_DIR}/common)
target_compile_options(fuzz_multistatus PRIVATE -fsanitize=fuzzer,address,undefined)
target_link_options(fuzz_multistatus PRIVATE -fsanitize=fuzzer,address,undefined)
target_link_libraries(fuzz_multistatus PRIVATE odoosync_warnings PkgConfig::LIBXML2 PkgConfig::CURL)
