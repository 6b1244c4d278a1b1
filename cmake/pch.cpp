// Compiles cmake/pch.h once (see CMakeLists.txt: precept_pch).
