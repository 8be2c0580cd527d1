/**
 * `breakwater completion bash|zsh`: a shell completion script generated from the command tree
 * itself, so every command and option (those other modules register too) completes without a
 * list to keep in step. Options that take a file complete file names; options with a fixed set
 * of values complete those values.
 */
import type { Command, Option } from "commander";

export const SHELLS = ["bash", "zsh"] as const;
export type Shell = (typeof SHELLS)[number];

interface OptionInfo {
  long: string;
  description: string;
  /** It takes a value (`--pipeline <file>`). */
  takesValue: boolean;
  file: boolean;
  choices: readonly string[];
}

interface CommandInfo {
  name: string;
  description: string;
  options: OptionInfo[];
}

function optionInfo(o: Option): OptionInfo | undefined {
  if (!o.long) return undefined;
  return {
    long: o.long,
    description: o.description,
    takesValue: o.required || o.optional,
    file: /<[^>]*(file|dir)[^>]*>/.test(o.flags),
    choices: o.argChoices ?? [],
  };
}

function commandsOf(program: Command): CommandInfo[] {
  return program.commands
    .filter((c) => !(c as Command & { _hidden?: boolean })._hidden)
    .map((c) => ({
      name: c.name(),
      description: c.description(),
      options: [
        ...c.options.map(optionInfo).filter((o): o is OptionInfo => o !== undefined),
        {
          long: "--help",
          description: "display help",
          takesValue: false,
          file: false,
          choices: [],
        },
      ],
    }));
}

/** Shell words are ours (command and option names): only [a-z0-9-] reach the script. */
const word = (s: string) => s.replace(/[^A-Za-z0-9_-]/g, "");

function bash(program: Command): string {
  const commands = commandsOf(program);
  const top = [...commands.map((c) => word(c.name)), "--help", "--version"].join(" ");
  const cases = commands.map((c) => {
    const words = c.options.map((o) => word(o.long.slice(2))).map((w) => `--${w}`);
    const fileOpts = c.options.filter((o) => o.file).map((o) => `--${word(o.long.slice(2))}`);
    const choiceOpts = c.options
      .filter((o) => o.choices.length > 0)
      .map(
        (o) =>
          `      --${word(o.long.slice(2))}) COMPREPLY=($(compgen -W "${o.choices.map(word).join(" ")}" -- "$cur")); return ;;`,
      );
    const valueCases = [
      ...(fileOpts.length
        ? [`      ${fileOpts.join("|")}) COMPREPLY=($(compgen -f -- "$cur")); return ;;`]
        : []),
      ...choiceOpts,
    ];
    return [
      `    ${word(c.name)})`,
      ...(valueCases.length
        ? ['      case "$prev" in', ...valueCases.map((v) => `  ${v}`), "      esac"]
        : []),
      `      COMPREPLY=($(compgen -W "${words.join(" ")}" -- "$cur")) ;;`,
    ].join("\n");
  });
  return `# breakwater completion for bash. Load it with:
#   source <(breakwater completion bash)
# or save it to a file your ~/.bashrc sources.
_breakwater() {
  local cur prev
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${top}" -- "$cur"))
    return
  fi
  case "\${COMP_WORDS[1]}" in
${cases.join("\n")}
  esac
}
complete -o default -F _breakwater breakwater
`;
}

/** Text inside a zsh single-quoted `_arguments` spec: no quote, bracket or colon. */
const zshText = (s: string) =>
  (s.split(/(?<=[.;])\s/)[0] ?? "")
    .replace(/['[\]:\\`$]/g, "")
    .replace(/\s+/g, " ")
    .slice(0, 100);

function zsh(program: Command): string {
  const commands = commandsOf(program);
  const list = commands.map((c) => `    '${word(c.name)}:${zshText(c.description)}'`).join("\n");
  const cases = commands.map((c) => {
    const specs = c.options.map((o) => {
      const name = `--${word(o.long.slice(2))}`;
      const action = !o.takesValue
        ? ""
        : o.file
          ? ":file:_files"
          : o.choices.length
            ? `:value:(${o.choices.map(word).join(" ")})`
            : ":value: ";
      // A repeatable option (a list) may be given again: '*' in front.
      return `'${name}[${zshText(o.description)}]${action}'`;
    });
    return `    ${word(c.name)})\n      _arguments ${specs.join(" \\\n        ")} ;;`;
  });
  return `#compdef breakwater
# breakwater completion for zsh. Load it with:
#   source <(breakwater completion zsh)
# (after compinit), or save it as _breakwater in a directory of your $fpath.
_breakwater() {
  local -a commands
  commands=(
${list}
  )
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  local cmd=$words[2]
  shift words
  (( CURRENT-- ))
  case $cmd in
${cases.join("\n")}
  esac
}
if [ "$funcstack[1]" = "_breakwater" ]; then
  _breakwater "$@"
else
  compdef _breakwater breakwater
fi
`;
}

/** The completion script of `program` for `shell`. */
export function completionScript(program: Command, shell: Shell): string {
  return shell === "bash" ? bash(program) : zsh(program);
}

export function registerCompletionCommand(
  program: Command,
  io: { out: NodeJS.WritableStream },
  usageError: (message: string) => Error,
): void {
  program
    .command("completion")
    .description("Print a shell completion script: source <(breakwater completion bash)")
    .argument("<shell>", `the shell: ${SHELLS.join(" or ")}`)
    .action((shell: string) => {
      if (!SHELLS.includes(shell as Shell)) {
        throw usageError(
          `completion "${shell.slice(0, 40)}": the shell must be ${SHELLS.join(" or ")}`,
        );
      }
      io.out.write(completionScript(program, shell as Shell));
    });
}
