// RUN: rducc opt %s -p 'rdu-target{chip=small}' | filecheck %s
// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-target{chip=small}' | filecheck %s
// RUN: (rducc opt %s -p 'rdu-target{chip=small},rdu-target{chip=sn40l}' 2>&1; test $? -eq 2) | filecheck %s --check-prefix=OTHER
// RUN: (rducc opt %s -p 'rdu-lower' 2>&1; test $? -eq 2) | filecheck %s --check-prefix=MISSING
// RUN: (rducc opt %s -p 'rdu-target{chip=nope}' 2>&1; test $? -eq 2) | filecheck %s --check-prefix=UNKNOWN
// RUN: (rducc opt %s -p 'rdu-fuse{chip=small},rdu-lower{chip=sn40l}' 2>&1; test $? -eq 2) | filecheck %s --check-prefix=OPTION
// The chip is set once, as a module attribute, and every pass reads it from there.

func.func @forward(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = rgraph.exp %x : tensor<4x8xf32> -> tensor<4x8xf32>
  func.return %0 : tensor<4x8xf32>
}

// CHECK: builtin.module attributes {rdu.target = #rdu.target<"small">} {

// OTHER: error: rdu-target: the module already targets chip 'small', not 'sn40l'
// MISSING: error: rdu-lower needs a target chip: run rdu-target{chip=NAME} first (or give the module a rdu.target attribute)
// UNKNOWN: error: unknown chip 'nope': choose one of small, sn40l or give a .toml spec path
// OPTION: error: bad pass pipeline {{.*}} Provided arguments ["chip"] not found in expected arguments ["max_ops", "boundary"]
