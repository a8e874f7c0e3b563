# Writes a .cc holding broker.yaml as a raw string literal (the embedded default config).
# Run as: cmake -DINPUT=broker.yaml -DOUTPUT=embedded_config.cc -P embed.cmake
file(READ ${INPUT} content)
string(FIND "${content}" ")kbyaml\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} contains the raw-string delimiter )kbyaml\"")
endif()
file(WRITE ${OUTPUT} "// Generated from config/broker.yaml by config/embed.cmake. Do not edit.\n"
                     "namespace kb::config {\n"
                     "extern const char* const kEmbeddedBrokerYaml;\n"
                     "const char* const kEmbeddedBrokerYaml = R\"kbyaml(${content})kbyaml\";\n"
                     "}  // namespace kb::config\n")
