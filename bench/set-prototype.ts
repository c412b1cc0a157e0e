/**
 * Why setting `req.auth` costs microseconds in an Express 5 server and nanoseconds in a loop
 * (bench/README.md, "Where the HTTP-only cost goes"): one property added to a fresh 30-field
 * object, as plain node:http makes them, and after `Object.setPrototypeOf` (what Express's
 * app.handle does to every req and res). `node --import tsx bench/set-prototype.ts`
 */
// A constructor with 30 named fields, like IncomingMessage's (a function, so the fields are real properties).
const Msg = new Function('i', Array.from({ length: 30 }, (_, k) => `this.f${k} = i;`).join('')) as unknown as new (i: number) => Record<string, unknown>;
const proto = Object.create(Msg.prototype) as object;
const auth = Object.freeze({ token: 'x' });

function run(setPrototype: boolean, assign: boolean, n: number): number {
  const t0 = process.hrtime.bigint();
  let sink = 0;
  for (let i = 0; i < n; i++) {
    const o = new Msg(i);
    if (setPrototype) Object.setPrototypeOf(o, proto);
    o.res = i;
    if (assign) o.auth = auth;
    sink += o.res as number;
  }
  if (sink < 0) console.log(sink);
  return Number(process.hrtime.bigint() - t0) / n;
}

for (let round = 0; round < 4; round++) {
  const cells = ([[false, false], [false, true], [true, false], [true, true]] as const).map(
    ([p, a]) => `${p ? 'setPrototypeOf' : 'plain'}${a ? ' + auth' : ''}: ${run(p, a, 200_000).toFixed(0)} ns`,
  );
  console.log(cells.join(' | '));
}
