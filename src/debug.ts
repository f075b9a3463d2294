/**
 * The DEBUG switch.
 *
 * DEBUG=1 prints the emitted code; DEBUG=2 also prints the IR after each phase, each
 * under a heading. Output goes to stderr so it never mixes with generated files or
 * command output. The text is built only when the level asks for it.
 */

export function debugLevel(): number {
  const v = Number(process.env.DEBUG ?? 0);
  return Number.isFinite(v) ? v : 0;
}

export function debugPhase(phase: string, text: () => string, level = 2): void {
  if (debugLevel() < level) return;
  process.stderr.write(`\n===== gradc: after ${phase} =====\n${text()}\n`);
}
