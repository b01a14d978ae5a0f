from importlib.resources import files


def main() -> None:
    greeting = files("hello").joinpath("data/greeting.txt").read_text()
    print(greeting.strip() + " from hello")
