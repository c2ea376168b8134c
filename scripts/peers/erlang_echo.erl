#!/usr/bin/env escript
%% -*- erlang -*-
%% Erlang peer: gen_tcp in binary mode, {active, false}, one process per connection (the
%% acceptor hands each socket to a fresh process), as in the gen_tcp echo examples.
%%
%% Usage: escript erlang_echo.erl [PORT] [--buffer BYTES]   (PORT 0: any free port)
%% --buffer sets {recbuf, B}, {sndbuf, B} and {buffer, B} (the study raised Erlang's
%% 1,500-byte default user-level buffer to 16 KiB); without it the defaults.
-mode(compile).

main(Args) ->
    % SIGTERM ends the VM at once, as it does the other peers (init:stop's graceful
    % shutdown takes a second and was seen to hang once).
    ok = os:set_signal(sigterm, default),
    {Port, Buffer} = parse(Args, 0, []),
    Opts = [binary, {packet, raw}, {active, false}, {reuseaddr, true}, {nodelay, true},
            {ip, {127, 0, 0, 1}}, {backlog, 32768} | Buffer],
    {ok, Listen} = gen_tcp:listen(Port, Opts),
    {ok, Bound} = inet:port(Listen),
    io:format("listening on 127.0.0.1:~b~n", [Bound]),
    accept(Listen).

parse([], Port, Buffer) ->
    {Port, Buffer};
parse(["--buffer", B | Rest], Port, _) ->
    N = list_to_integer(B),
    parse(Rest, Port, [{recbuf, N}, {sndbuf, N}, {buffer, N}]);
parse([P | Rest], _, Buffer) ->
    parse(Rest, list_to_integer(P), Buffer).

accept(Listen) ->
    case gen_tcp:accept(Listen) of
        {ok, Socket} ->
            Pid = spawn(fun() -> receive go -> loop(Socket) end end),
            ok = gen_tcp:controlling_process(Socket, Pid),
            Pid ! go;
        {error, _} ->
            % Out of descriptors (or ports): wait a little and accept again.
            timer:sleep(10)
    end,
    accept(Listen).

loop(Socket) ->
    case gen_tcp:recv(Socket, 0) of
        {ok, Data} ->
            case gen_tcp:send(Socket, Data) of
                ok -> loop(Socket);
                {error, _} -> gen_tcp:close(Socket)
            end;
        {error, _} ->
            gen_tcp:close(Socket)
    end.
