# The PROTOBUF schema type of kb_registry_schema: .proto text and base64 FileDescriptorProto parsing
# (Debian's libprotoc parser and libprotobuf descriptors), Confluent's canonical text and
# compatibility rules. Included by registry/CMakeLists.txt after add_library(kb_registry_schema ...);
# the unit tests are tests/unit/registry/protobuf*_test.cc, picked up by the registry suite.
find_package(Protobuf REQUIRED)
target_sources(kb_registry_schema PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/protobuf.cc
  ${CMAKE_CURRENT_LIST_DIR}/protobuf_render.cc
  ${CMAKE_CURRENT_LIST_DIR}/protobuf_diff.cc)
target_link_libraries(kb_registry_schema PUBLIC protobuf::libprotoc protobuf::libprotobuf)
