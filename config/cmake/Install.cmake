# Man pages and bash completion: written by hand, installed as they are (man pages gzipped, as Debian
# does). The binaries and the example configs have their own install rules; the hook link itself is
# made by `gpu-handover install`, never by the build.
set(GH_MAN_PAGES ${PROJECT_SOURCE_DIR}/config/man/gpu-handover.8
                 ${PROJECT_SOURCE_DIR}/config/man/gpu-handover.conf.5)

find_program(GH_GZIP gzip)
foreach(page IN LISTS GH_MAN_PAGES)
  get_filename_component(name ${page} NAME)
  string(REGEX REPLACE ".*\\.([0-9])$" "\\1" section ${name})
  if(GH_GZIP)
    # -n: no name or time stamp inside, so that two builds give the same file.
    add_custom_command(OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/man/${name}.gz
                       COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/man
                       COMMAND ${GH_GZIP} -9nc ${page} > ${CMAKE_CURRENT_BINARY_DIR}/man/${name}.gz
                       DEPENDS ${page} VERBATIM)
    list(APPEND GH_MAN_OUTPUTS ${CMAKE_CURRENT_BINARY_DIR}/man/${name}.gz)
    install(FILES ${CMAKE_CURRENT_BINARY_DIR}/man/${name}.gz
            DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
  else()
    install(FILES ${page} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
  endif()
endforeach()
if(GH_MAN_OUTPUTS)
  add_custom_target(gh-man ALL DEPENDS ${GH_MAN_OUTPUTS})
endif()

install(FILES ${PROJECT_SOURCE_DIR}/config/completion/gpu-handover.bash
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME gpu-handover)
