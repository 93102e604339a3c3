// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-lower,rdu-allocate-units,rdu-place' | filecheck %s
// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-lower,rdu-allocate-units,rdu-place{greedy=true}' | filecheck %s --check-prefix=GREEDY
// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-lower,rdu-plan-memory,rdu-allocate-units,rdu-size-fifos,rdu-tile,rdu-place{objective=cycles rounds=1}' | filecheck %s --check-prefix=CYCLES
// Every stage gets one site per unit; the placement summary is kept for the manifest.

func.func @forward(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = rgraph.exp %x : tensor<4x8xf32> -> tensor<4x8xf32>
  func.return %0 : tensor<4x8xf32>
}

// CHECK: builtin.module attributes {rdu.target = #rdu.target<"small">, rdu.placement = #rdu.placement<method "cp-sat windows", seed 0, kernels 1, distinct_kernels 1, wirelength {{[0-9]+}}, lower_bound {{[0-9]+}}, gap {{[0-9.]+}}, cp_sat [windows_solved {{[0-9]+}}, windows_improved {{[0-9]+}}, windows_proven_optimal {{[0-9]+}}, conflicts {{[0-9]+}}, branches {{[0-9]+}}], objective "multicast-hpwl", budgets [1.0], placed_with [0]>}
// CHECK: rdu.load %{{.*}} {units = 1 : i64, tiles = array<i64: 128>, depths = array<i64: 2>, sites = #rdu.sites<({{(0|9)}}, {{[0-9]}})>}
// CHECK: rdu.compute "exp"(%{{.*}}) {unit = #rdu.unit<pcu>, params = {}, units = 1 : i64, tiles = array<i64: 128>, depths = array<i64: 2>, sites = #rdu.sites<({{[0-9]+}}, {{[0-9]+}})>}
// CHECK: rdu.store {{.*}}sites = #rdu.sites<({{(0|9)}}, {{[0-9]}})>

// GREEDY: rdu.placement = #rdu.placement<method "greedy", seed 0,
// GREEDY-SAME: budgets [0.0], placed_with [0]>
// GREEDY: rdu.compute "exp"({{.*}}sites = #rdu.sites<(

// CYCLES: rdu.placement = #rdu.placement<method "cp-sat windows, cycle-driven (1 round; body cycles k0_exp: wirelength {{[0-9]+}}, greedy {{[0-9]+}}, round 1 {{[0-9]+}} -> {{wirelength|greedy|round 1}})", seed 0,
// CYCLES-SAME: objective "simulated-cycles", budgets [1.0], placed_with [0]>
// CYCLES: rdu.compute "exp"({{.*}}sites = #rdu.sites<(
