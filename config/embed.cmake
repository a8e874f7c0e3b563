# Writes a .cc holding broker.yaml as a raw string literal (the embedded default config).
file(READ ${INPUT} content)
file(WRITE ${OUTPUT} "// Generated from config/broker.yaml. Do not edit.\nnamespace kb::config {\nextern const char* const kEmbeddedBrokerYaml;\nconst char* const kEmbeddedBrokerYaml = R\"kbyaml(${content})kbyaml\";\n}\n")
