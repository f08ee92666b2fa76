# Install layout (packages are built from it; see packaging/).
install(TARGETS pywebd RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
