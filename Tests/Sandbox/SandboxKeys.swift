/// Fixed RSA keys for the sandbox's Vonage applications and Google service accounts. Generating a key takes seconds
/// in a debug build, which a test or `make run` should not wait for; these sign nothing outside the sandbox.
public enum SandboxKeys {
    public static let first = """
        -----BEGIN PRIVATE KEY-----
        MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDAckLQfm1Wn/ZO
        8B+UxFQBrECVI2FXj7bzHM0rxVQYpGL2Jd2UktmoVt7XmltW+f2qWh3z47QoDbMs
        bCt6NTBxhfFdZZEKbUlhK53DLu+9K5lhU0C+IcX6Sgbd4E08Qh3b1EMyKBTLagXi
        akTjf8za8B92q8sc0n2+lT0PbGADkvtKNKqB97woRdALrKVlAfs84rZIb8b8xpGH
        J5OULRmcQUkEp95lCp8wXHPzP9tuOzqCfa4CqWe+8BdLnE8teTsjM9yOiPf+XMH+
        tldXGcBKRktJEpUp2x9jfb7uxyAMfcPCqHHcJHjZ1yoepFH2e/BlMofwnNrO4cGJ
        01Zz0uORAgMBAAECggEAIns2koHcmGVP7iPjHLYysRwKdE5jDhvPdW7nKh0QrNuj
        aaQuOAU534o1Il9jV0mylDfSXxUg/f46aM622Y43MFgF/6yHmN0tBS6Z9VNvHC94
        K3KNyqNlhCuIYG/kltPn4q/9HDsHQs0r4b4Vusd2zpGwqYQtf+wNIL0/tAhAidMX
        wOM12uwwA5iTjkAje0iCmQIktdPMnPz31+Gly30lSIZZ7FnfrUdZ+nDVSQWyzbdN
        PY+uoXzHZo02nsgMzccZG0g/VvSuh5fnahdRsRVaZKQ8lPkjIRDLovxuiCbglrc8
        8OhDNOJ0d9sG4GpGv/4CfTTWZdGXBwi2uqImHK+uKwKBgQDyJyJ8VBMfoipZOWUX
        EbCBhzQVdsUEaBMCsLN0LMtbnRhRGGs++eAcqWV6eA3aBnucH7BMSA8CL9POa4bN
        RxvuNHsAQICPdUJFZa8GAImlOe/vD6TL0YNXm8g4Z8pNTYV1Q2Ea3gXseRl8WQwQ
        XW95Y8ivWmhjji8OEBqu5tovlwKBgQDLc3l1Qk8RXGZTc+t+2/fSH7TvU1nYrlOu
        ICnabAmjRpPh5jPK62OO0RIqopRX5zewgXTVCtropGLL9zut644mBSMKWCt/Y1hm
        3LSFjdPt+qoHN5Irnsi3gqQ8npxyLP5EDR+YBbPeHVIsGZHHF2F1AYmCi4thJMbD
        Z5BIyN/rFwKBgQCSwRDvVGy6kSclJ9mSH5BfD7eLAo3oW8KZsMkxMSyVeyGPlEL6
        yaj+9dKgZD3Q0nj7Z2EK+ejOpHmy8guiQOQ2euvIfU7sol3lfPiTpKPG1NQKh+qR
        84msAKdZN92s97xYEtu40rG4XLQLXlQnXtj+MnEfhKUbIMJ3vV7OfO3iRQKBgQCu
        UQpIBcBpR5oE9tVXpHD5gGEujWP126enEbfKhbbcRqR+cRb/Th/HRisijJo9lsaI
        XOMVhm951R8xU2u24JSyzsPvIQxj4WLk/0VNCPAEfzkfZeW/qhSf5zeBGQVCbnqN
        JBFl17z9GnJFhsL4qne+IMsJJzcMzM3gruNY+YOhkQKBgAHDP5MmjVIXsAG6T+wM
        j0/hucdXZ6BGztYKuBbIRSUANG7uksQ9bx5BA8etWYWsbD3FazyQ5sL/VMrz9OLf
        PYGrEFud9HJJwnZ2YpS94g576HcUPLVIRCvXygWblCRjdeRwpCHq75gVa0QGCyju
        yFvO1osWMvP8gkNZj3y+/+/8
        -----END PRIVATE KEY-----
        """

    /// A key the sandbox's accounts do not have, for a test's wrong credentials.
    public static let second = """
        -----BEGIN PRIVATE KEY-----
        MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQCp2+9wObCRtHF+
        LgmhjRdbAm+HiE3ku9YRNlIx/oOuKQ32lH8srSrBiq2WMj2WDp7AZ5VJ/Lz6A+fT
        nwd1EePvE3vAUqeOJ4YxwAKsrXwycOmId+FA6tGSlj12kq71tBqcgI/3hi6PMZ/P
        10xz239fu5T7c/XM4T6ODimm5GYieX5bXsMaO/8zauqxZ+DGW78/QGuLKe5urYAU
        tqo0SYsqY4yAHrT5BxN+XO366W5KYLZ0JOJnHphd+BK2qzRAI6ypqlMpp/0KA+G0
        xM9N+6dDs6fXBVjnsErINj6NTp1TJR28n6twufIEtJWyP4nqFZEciQr/IoPzjeMX
        6av6X5HNAgMBAAECggEACDZ44Yd8jNL5cNUnhI7mm/EmdNpnj8FwRIVInJ+2fLeB
        9BPygTW/PTvoEDzOIwECdoGbo4frmDgTn7UO/n9WssLRpzcn4FTzZVjoGDLMMEEq
        3X0UYFfqOaj3gFHv0TP73GjP7TMo8aX/2OQLT4fDpRyUA8Nz1UvnwyUWqPneoViD
        wL1OO6OpJzXkP8GOznlBs2FaVeMRN3xQmHg3LZRtYuw0ba/XQFKpRi4BDStkbJwB
        IG2qyjpB+dCCuCVczwWdDxBxGWcHMullnR/kusGWROHY/k71KHnVxLWE5pH5EQN3
        vGzF4Vy0tKZNYGD9lEp1ju8cl1c9+WUc81t/78EQmQKBgQDjU7D/26J4apZN9lET
        wgdXAVfOZF/JpWsst4m7anNBDOVXvSCw7Vqxe0a1TkP8de4O05HbjH1MW5l99THz
        IDIKvxqxmMpslNGotm/Jqo/rfzOyvl3kGzlpCEUN4sArMGuKBKSVr4U89YDhStJ1
        bGqbcWhAuIauXOHxxtH8YlZXyQKBgQC/SKDb3pIHpz0oChiX5UgNduF3gTNIOmGa
        x1PHw4G/IUMzqNr/sKGcIeKjn/y1l2rmcjKrFhY+IL9IYJngaNeNI55CyvZwaN49
        jmsrhCua7eo5ohSA+6VLqRiWB2nRNIQTF1TL8W4P246XFUtvULnRGZKzVelYmNNh
        UBYwEXYz5QKBgDD8FcXsZAQio6TFEQ963e4Hog4dXu6qsH+ARTOXaqJ3zuurG2JE
        oyhfcgsbhFbgap3TRTjT+yP7EQYtUcgcBex+5ZejXusq3krGlSwVjtGmJVO85aqD
        m0lguNCXLeWgl2u0OGrw2XsbQ9xILTWUWRyJwXdAy/TCmwVoXFNQNV7RAoGBAKfj
        JhR0sDT5ayrmWZmQCwKOUewiwRDm9N31jyopBYrstd/0l2qN6/pun04/0HzNjmz+
        1EvnUdRrx5fN+aDGRFJDbddv7obQ9CaRBq0mD2Om58p34Iko1XanzsV3cj/FWRqs
        gqeRmqleajNe5FuqPb0yNdkjUXCKihTCRwcffGClAoGBAKLUic3lrFuH/sCY5qvG
        GhlZ35hXE7XghlN/szCR0J7c7D/fok4t7JLnkuNrEobvwXxL57jGV4BlvbEA7+V7
        6HYPMjQYZ5v107w0t3n61vMuDaCxO8FKfojHR4Jpywwl4tY5+VR7qTYCM4JurTDK
        7pRe1SzDdE+bNtGymcLgYjwV
        -----END PRIVATE KEY-----
        """
}
